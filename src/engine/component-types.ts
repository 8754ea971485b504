/**
 * The size of every imported function's *return area*, read from the component's own type
 * declarations.
 *
 * Write tracking (write-tracking.ts, guest/dirty-blocks.ts) must know every byte the host writes
 * into guest memory. jco's lowering writes guest memory in two places only: areas an exported
 * `cabi_realloc` returned (the engine marks what it returns), and the return area of an imported
 * function whose results do not fit in one core value — an address the guest passes as the
 * import's last argument. How much is written there follows from the result type *as the
 * component declares it*, not as our WIT says: imports are matched by interface and function name,
 * a component may declare `storage.get` with any result type, and jco lowers by the declared one.
 *
 * So this decodes the component's import section and the types it refers to (the component model's
 * binary format, Binary.md) and applies the canonical ABI's size and flattening rules
 * (CanonicalABI.md: `elem_size`, `alignment`, `flatten_type`). Only what a return area needs is kept
 * of each type: its size, alignment and number of flat core values. Anything this decoder does not
 * know (async functions, core types inside instance types, a new encoding) throws
 * `ComponentTypeError`; the engine then restores all of memory instead of tracked blocks.
 */
import { Reader } from './wasm-binary.js';
import { stripVersion } from './interface-name.js';

export class ComponentTypeError extends Error {
  override name = 'ComponentTypeError';
}

/** Versionless interface name (`alga:extension/storage`, `$root` for world-level functions) → function → return-area bytes (0: results come back in a core value). */
export type ReturnAreas = Record<string, Record<string, number>>;

/** The canonical ABI's `MAX_FLAT_RESULTS` for a lowered (imported) function. */
const MAX_FLAT_RESULTS = 1;

interface Layout {
  size: number;
  align: number;
  /** core values the type flattens to */
  flat: number;
}

type Entry = { kind: 'value'; layout: Layout } | { kind: 'resource' } | { kind: 'func'; result: Layout | null } | { kind: 'instance'; exports: Map<string, Entry> } | { kind: 'other' };

const OTHER: Entry = { kind: 'other' };
const HANDLE: Layout = { size: 4, align: 4, flat: 1 };
const POINTER_AND_LENGTH: Layout = { size: 8, align: 4, flat: 2 };

const PRIMITIVES: Record<number, Layout> = {
  0x7f: { size: 1, align: 1, flat: 1 }, // bool
  0x7e: { size: 1, align: 1, flat: 1 }, // s8
  0x7d: { size: 1, align: 1, flat: 1 }, // u8
  0x7c: { size: 2, align: 2, flat: 1 }, // s16
  0x7b: { size: 2, align: 2, flat: 1 }, // u16
  0x7a: { size: 4, align: 4, flat: 1 }, // s32
  0x79: { size: 4, align: 4, flat: 1 }, // u32
  0x78: { size: 8, align: 8, flat: 1 }, // s64
  0x77: { size: 8, align: 8, flat: 1 }, // u64
  0x76: { size: 4, align: 4, flat: 1 }, // f32
  0x75: { size: 8, align: 8, flat: 1 }, // f64
  0x74: { size: 4, align: 4, flat: 1 }, // char
  0x73: POINTER_AND_LENGTH, // string
  0x64: HANDLE, // error-context
};

/** Return-area sizes of every function the component imports. Throws ComponentTypeError. */
export function importReturnAreas(bytes: Uint8Array): ReturnAreas {
  if (bytes.length < 8 || bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d || bytes[6] !== 0x01 || bytes[7] !== 0x00) {
    throw new ComponentTypeError('not a component');
  }
  const decoder = new TopLevel();
  const r = new Reader(bytes, 8);
  try {
    while (r.pos < bytes.length) {
      const id = r.byte();
      const size = r.u32();
      const section = new Reader(bytes, r.pos, r.pos + size);
      r.skip(size);
      decoder.section(id, section);
    }
  } catch (e) {
    if (e instanceof ComponentTypeError) throw e;
    throw new ComponentTypeError(`malformed component: ${e instanceof Error ? e.message : String(e)}`);
  }
  return decoder.returnAreas;
}

/** The top-level component's type and instance index spaces, as far as imports need them. */
class TopLevel {
  private readonly types: Entry[] = [];
  private readonly instances: Entry[] = [];
  readonly returnAreas: ReturnAreas = {};

  section(id: number, r: Reader): void {
    switch (id) {
      case 5: // instances: each adds one we never need the type of
        for (let n = r.u32(); n > 0; n--) {
          skipInstanceExpr(r);
          this.instances.push(OTHER);
        }
        return;
      case 6:
        for (let n = r.u32(); n > 0; n--) this.alias(r);
        return;
      case 7:
        for (let n = r.u32(); n > 0; n--) this.types.push(parseType(r, [this.types]));
        return;
      case 10:
        for (let n = r.u32(); n > 0; n--) this.import(r);
        return;
      case 11:
        for (let n = r.u32(); n > 0; n--) this.export(r);
        return;
      default: // core sections, nested components, canon, start, custom: no component types or instances for imports
        return;
    }
  }

  private alias(r: Reader): void {
    const sort = readSort(r);
    const target = r.byte();
    if (target === 0x00) {
      const instance = this.instances[r.u32()];
      const name = r.name();
      const entry = instance?.kind === 'instance' ? (instance.exports.get(name) ?? OTHER) : OTHER;
      if (sort === 'type') this.types.push(entry);
      else if (sort === 'instance') this.instances.push(entry);
    } else if (target === 0x01) {
      r.u32();
      r.name();
    } else if (target === 0x02) {
      r.u32();
      r.u32();
      if (sort === 'type') this.types.push(OTHER);
      else if (sort === 'instance') this.instances.push(OTHER);
    } else {
      throw new ComponentTypeError(`unknown alias target 0x${target.toString(16)}`);
    }
  }

  private import(r: Reader): void {
    const name = readExternName(r);
    const desc = readExternDesc(r);
    if (desc.kind === 'instance') {
      const type = this.types[desc.index];
      if (type?.kind !== 'instance') throw new ComponentTypeError(`import ${name} names type ${desc.index}, which is not an instance type`);
      this.instances.push(type);
      for (const [fn, entry] of type.exports) if (entry.kind === 'func') this.record(stripVersion(name), fn, entry);
    } else if (desc.kind === 'func') {
      const type = this.types[desc.index];
      if (type?.kind !== 'func') throw new ComponentTypeError(`import ${name} names type ${desc.index}, which is not a function type`);
      this.record('$root', name, type);
    } else if (desc.kind === 'type') {
      this.types.push(desc.eq === null ? { kind: 'resource' } : (this.types[desc.eq] ?? OTHER));
    }
  }

  private record(iface: string, fn: string, type: { result: Layout | null }): void {
    const area = type.result && type.result.flat > MAX_FLAT_RESULTS ? type.result.size : 0;
    const functions = (this.returnAreas[iface] ??= {});
    // two versions of one interface share the core import namespace's versionless name: keep the larger
    functions[fn] = Math.max(functions[fn] ?? 0, area);
  }

  private export(r: Reader): void {
    readExternName(r);
    const sort = readSort(r);
    const index = r.u32();
    if (r.byte() === 0x01) readExternDesc(r);
    if (sort === 'type') this.types.push(this.types[index] ?? OTHER);
    else if (sort === 'instance') this.instances.push(this.instances[index] ?? OTHER);
  }
}

type Sort = 'core' | 'func' | 'value' | 'type' | 'component' | 'instance';

function readSort(r: Reader): Sort {
  const b = r.byte();
  switch (b) {
    case 0x00:
      r.byte(); // the core sort
      return 'core';
    case 0x01:
      return 'func';
    case 0x02:
      return 'value';
    case 0x03:
      return 'type';
    case 0x04:
      return 'component';
    case 0x05:
      return 'instance';
    default:
      throw new ComponentTypeError(`unknown sort 0x${b.toString(16)}`);
  }
}

/** importname' / exportname': 0x00 or (older binaries, interface names) 0x01, then the name. */
function readExternName(r: Reader): string {
  const b = r.byte();
  if (b !== 0x00 && b !== 0x01) throw new ComponentTypeError(`unknown import/export name encoding 0x${b.toString(16)}`);
  return r.name();
}

type ExternDesc = { kind: 'func' | 'instance' | 'component' | 'module'; index: number } | { kind: 'type'; eq: number | null } | { kind: 'value' };

function readExternDesc(r: Reader): ExternDesc {
  const b = r.byte();
  switch (b) {
    case 0x00:
      if (r.byte() !== 0x11) throw new ComponentTypeError('unknown core extern kind');
      return { kind: 'module', index: r.u32() };
    case 0x01:
      return { kind: 'func', index: r.u32() };
    case 0x02:
      if (r.byte() === 0x00) r.u32();
      else readValType(r, []);
      return { kind: 'value' };
    case 0x03: {
      const bound = r.byte();
      if (bound === 0x00) return { kind: 'type', eq: r.u32() };
      if (bound === 0x01) return { kind: 'type', eq: null };
      throw new ComponentTypeError(`unknown type bound 0x${bound.toString(16)}`);
    }
    case 0x04:
      return { kind: 'component', index: r.u32() };
    case 0x05:
      return { kind: 'instance', index: r.u32() };
    default:
      throw new ComponentTypeError(`unknown extern kind 0x${b.toString(16)}`);
  }
}

function skipInstanceExpr(r: Reader): void {
  const b = r.byte();
  if (b === 0x00) {
    r.u32();
    for (let n = r.u32(); n > 0; n--) {
      r.name();
      readSort(r);
      r.u32();
    }
  } else if (b === 0x01) {
    for (let n = r.u32(); n > 0; n--) {
      readExternName(r);
      readSort(r);
      r.u32();
    }
  } else {
    throw new ComponentTypeError(`unknown instance expression 0x${b.toString(16)}`);
  }
}

/**
 * One type definition. `spaces` are the type index spaces from the outermost (the component) to
 * the innermost (the one this type is being added to); an `outer` alias counts from the innermost.
 */
function parseType(r: Reader, spaces: Entry[][]): Entry {
  const b = r.byte();
  const local = spaces[spaces.length - 1]!;
  switch (b) {
    case 0x40: {
      for (let n = r.u32(); n > 0; n--) {
        r.name();
        readValType(r, local);
      }
      return { kind: 'func', result: readResultList(r, local) };
    }
    case 0x41:
    case 0x42:
      return parseDeclarations(r, spaces, b === 0x41);
    case 0x3f: // resource: rep i32, optional destructor
      if (r.byte() !== 0x7f) throw new ComponentTypeError('unknown resource representation');
      if (r.byte() === 0x01) r.u32();
      return { kind: 'resource' };
    default:
      r.pos--;
      return { kind: 'value', layout: readDefValType(r, local) };
  }
}

function readResultList(r: Reader, types: Entry[]): Layout | null {
  const b = r.byte();
  if (b === 0x00) return readValType(r, types);
  if (b !== 0x01) throw new ComponentTypeError(`unknown result list 0x${b.toString(16)}`);
  // older binaries: named results, laid out as a record of them
  const fields: Layout[] = [];
  for (let n = r.u32(); n > 0; n--) {
    r.name();
    fields.push(readValType(r, types));
  }
  return fields.length === 0 ? null : recordLayout(fields);
}

/** An instance type's (or component type's) declarations, in their own type index space. */
function parseDeclarations(r: Reader, outer: Entry[][], isComponent: boolean): Entry {
  const local: Entry[] = [];
  const spaces = [...outer, local];
  const exports = new Map<string, Entry>();
  for (let n = r.u32(); n > 0; n--) {
    const tag = r.byte();
    switch (tag) {
      case 0x00:
        throw new ComponentTypeError('core types inside an instance or component type are not supported');
      case 0x01:
        local.push(parseType(r, spaces));
        break;
      case 0x02: {
        const sort = readSort(r);
        if (r.byte() !== 0x02) throw new ComponentTypeError('only outer aliases may appear in a type');
        const count = r.u32();
        const index = r.u32();
        if (sort === 'type') local.push(spaces[spaces.length - 1 - count]?.[index] ?? OTHER);
        break;
      }
      case 0x03:
      case 0x04: {
        if (tag === 0x03 && !isComponent) throw new ComponentTypeError('an import declaration inside an instance type');
        const name = readExternName(r);
        const desc = readExternDesc(r);
        let entry: Entry = OTHER;
        if (desc.kind === 'type') {
          entry = desc.eq === null ? { kind: 'resource' } : (local[desc.eq] ?? OTHER);
          local.push(entry);
        } else if (desc.kind === 'func' || desc.kind === 'instance') {
          entry = local[desc.index] ?? OTHER;
        }
        if (tag === 0x04) exports.set(name, entry);
        break;
      }
      default:
        throw new ComponentTypeError(`unknown declaration 0x${tag.toString(16)}`);
    }
  }
  return isComponent ? OTHER : { kind: 'instance', exports };
}

function readValType(r: Reader, types: Entry[]): Layout {
  const b = r.bytes[r.pos];
  if (b !== undefined && PRIMITIVES[b]) {
    r.pos++;
    return PRIMITIVES[b];
  }
  const index = r.u32();
  const entry = types[index];
  if (entry?.kind !== 'value') throw new ComponentTypeError(`type ${index} used as a value type is not one`);
  return entry.layout;
}

function readOptional<T>(r: Reader, read: () => T): T | null {
  const b = r.byte();
  if (b === 0x00) return null;
  if (b === 0x01) return read();
  throw new ComponentTypeError(`bad optional 0x${b.toString(16)}`);
}

function readDefValType(r: Reader, types: Entry[]): Layout {
  const b = r.byte();
  if (PRIMITIVES[b]) return PRIMITIVES[b];
  const valType = () => readValType(r, types);
  switch (b) {
    case 0x72: {
      const fields: Layout[] = [];
      for (let n = r.u32(); n > 0; n--) {
        r.name();
        fields.push(valType());
      }
      return recordLayout(fields);
    }
    case 0x71: {
      const cases: (Layout | null)[] = [];
      for (let n = r.u32(); n > 0; n--) {
        r.name();
        cases.push(readOptional(r, valType));
        readOptional(r, () => r.u32()); // `refines`, always absent today
      }
      return variantLayout(cases);
    }
    case 0x70:
      valType();
      return POINTER_AND_LENGTH;
    case 0x67: {
      const element = valType();
      const length = r.u32();
      return { size: element.size * length, align: element.align, flat: element.flat * length };
    }
    case 0x6f: {
      const fields: Layout[] = [];
      for (let n = r.u32(); n > 0; n--) fields.push(valType());
      return recordLayout(fields);
    }
    case 0x6e: {
      let labels = 0;
      for (let n = r.u32(); n > 0; n--, labels++) r.name();
      return flagsLayout(labels);
    }
    case 0x6d: {
      const cases: null[] = [];
      for (let n = r.u32(); n > 0; n--) {
        r.name();
        cases.push(null);
      }
      return variantLayout(cases);
    }
    case 0x6b:
      return variantLayout([null, valType()]);
    case 0x6a:
      return variantLayout([readOptional(r, valType), readOptional(r, valType)]);
    case 0x69:
    case 0x68:
      r.u32();
      return HANDLE;
    case 0x66:
    case 0x65:
      readOptional(r, valType);
      return HANDLE;
    default:
      throw new ComponentTypeError(`unsupported type constructor 0x${b.toString(16)}`);
  }
}

const alignTo = (n: number, align: number) => Math.ceil(n / align) * align;

function recordLayout(fields: Layout[]): Layout {
  let size = 0;
  let align = 1;
  let flat = 0;
  for (const f of fields) {
    size = alignTo(size, f.align) + f.size;
    align = Math.max(align, f.align);
    flat += f.flat;
  }
  return { size: alignTo(size, align), align, flat };
}

function variantLayout(cases: (Layout | null)[]): Layout {
  const discriminant = cases.length <= 1 << 8 ? 1 : cases.length <= 1 << 16 ? 2 : 4;
  let caseAlign = 1;
  let caseSize = 0;
  let caseFlat = 0;
  for (const c of cases) {
    if (!c) continue;
    caseAlign = Math.max(caseAlign, c.align);
    caseSize = Math.max(caseSize, c.size);
    caseFlat = Math.max(caseFlat, c.flat);
  }
  const align = Math.max(discriminant, caseAlign);
  return { size: alignTo(alignTo(discriminant, caseAlign) + caseSize, align), align, flat: 1 + caseFlat };
}

function flagsLayout(labels: number): Layout {
  if (labels <= 8) return { size: 1, align: 1, flat: 1 };
  if (labels <= 16) return { size: 2, align: 2, flat: 1 };
  const words = Math.ceil(labels / 32);
  return { size: 4 * words, align: 4, flat: words };
}
