/**
 * Code and data of a component, apart.
 *
 * Every componentize-js extension carries the same JavaScript engine: the core modules of two
 * extensions built against one world differ only in the data section of the main module (the
 * pre-initialised JavaScript heap). Everything else — the code, the other modules, the component's
 * own sections, and so jco's glue — is byte for byte the same. So a core module is split into its
 * code (the module without its data segments, keyed by the sha256 of those bytes: compiled once per
 * process and shared) and its data segments (the extension's own, written into the memory right
 * after instantiation, exactly where instantiation would have placed them).
 *
 * A module is split only when that is the same as instantiating it whole: it defines its one
 * memory (imports none), has no start function (no code runs before the data is written), and all
 * of its segments are active, on that memory, at constant offsets past write tracking's dirty map. Otherwise its code key covers
 * the whole module and nothing is shared.
 *
 * The component's shape key hashes the component with each module's data replaced by its code key:
 * components with the same shape get the same glue, imports and checks (artifact-store.ts).
 */
import { createHash } from 'node:crypto';
import { Reader, WasmFormatError, readSections } from './wasm-binary.js';
import { DIRTY_MAP_BYTES } from './write-tracking.js';

const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const SECTION_START = 8;
const SECTION_DATA = 11;
const SECTION_DATA_COUNT = 12;
const IMPORT_KIND_MEMORY = 2;

/** Active data segments of a module, as offsets into `bytes` (the module's or the component's bytes). */
export interface DataSegments {
  segments: { offset: number; start: number; length: number }[];
  bytes: Uint8Array;
}

export interface SplitModule {
  /** `sha256:<hex>` of `code` */
  codeKey: string;
  /** the module without its data segments (or the whole module, when it cannot be split) */
  code: Uint8Array;
  /** the segments `code` lacks, or null when the module was kept whole */
  data: DataSegments | null;
}

export function sha256Key(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Splits a core module into shareable code and its own data (see above); throws WasmFormatError on malformed bytes. */
export function splitModule(bytes: Uint8Array): SplitModule {
  const data = splittableData(bytes);
  if (!data) return { codeKey: sha256Key(bytes), code: bytes, data: null };
  const code = withoutSections(bytes, new Set([SECTION_DATA, SECTION_DATA_COUNT]));
  return { codeKey: sha256Key(code), code, data: { segments: data, bytes } };
}

/** The module's active segments when splitting it is the same as instantiating it whole, else null. */
function splittableData(bytes: Uint8Array): DataSegments['segments'] | null {
  const sections = readSections(bytes);
  if (sections.some((s) => s.id === SECTION_START)) return null;
  const memory = sections.find((s) => s.id === SECTION_MEMORY);
  if (!memory || new Reader(bytes, memory.start, memory.end).u32() !== 1) return null;
  const imports = sections.find((s) => s.id === SECTION_IMPORT);
  if (imports && importsMemory(new Reader(bytes, imports.start, imports.end))) return null;
  const data = sections.find((s) => s.id === SECTION_DATA);
  if (!data) return null;
  const r = new Reader(bytes, data.start, data.end);
  const segments: DataSegments['segments'] = [];
  for (let n = r.u32(); n > 0; n--) {
    const flags = r.u32();
    // 0: active on memory 0; 2: active with an explicit memory index; 1 (passive) needs the segment at run time
    if (flags === 2 && r.u32() !== 0) return null;
    if (flags !== 0 && flags !== 2) return null;
    if (r.byte() !== 0x41) return null; // i32.const
    const offset = r.s32() >>> 0;
    if (r.byte() !== 0x0b) return null;
    const length = r.u32();
    // the first bytes hold the dirty map of write tracking, which refuses modules with data there
    if (offset < DIRTY_MAP_BYTES) return null;
    segments.push({ offset, start: r.pos, length });
    r.skip(length);
  }
  if (r.pos !== data.end) throw new WasmFormatError('data section has trailing bytes');
  return segments;
}

function importsMemory(r: Reader): boolean {
  for (let n = r.u32(); n > 0; n--) {
    r.name();
    r.name();
    const kind = r.byte();
    if (kind === IMPORT_KIND_MEMORY) return true;
    skipImportDescription(r, kind);
  }
  return false;
}

function skipImportDescription(r: Reader, kind: number): void {
  switch (kind) {
    case 0: // function: type index
      r.u32();
      return;
    case 1: {
      // table: reftype, limits
      const t = r.byte();
      if (t === 0x63 || t === 0x64) r.skipSigned();
      skipLimits(r);
      return;
    }
    case 3: {
      // global: valtype, mutability
      const t = r.byte();
      if (t === 0x63 || t === 0x64) r.skipSigned();
      r.byte();
      return;
    }
    case 4: // tag: attribute, type index
      r.byte();
      r.u32();
      return;
    default:
      throw new WasmFormatError(`unknown import kind ${kind}`);
  }
}

function skipLimits(r: Reader): void {
  const flags = r.byte();
  const is64 = (flags & 0x04) !== 0;
  if (is64) r.u64();
  else r.u32();
  if (flags & 0x01) {
    if (is64) r.u64();
    else r.u32();
  }
}

/** The module with the given sections left out, every other byte as it was. */
function withoutSections(bytes: Uint8Array, drop: ReadonlySet<number>): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const at = r.pos;
    const id = r.byte();
    const size = r.u32();
    r.skip(size);
    if (!drop.has(id)) parts.push(bytes.subarray(at, r.pos));
  }
  return Buffer.concat(parts);
}

/** A top-level section of a component: its id and the byte range of its contents. */
interface ComponentSection {
  id: number;
  /** start of the section header */
  at: number;
  start: number;
  end: number;
}

const COMPONENT_SECTION_CORE_MODULE = 1;

function componentSections(bytes: Uint8Array): ComponentSection[] {
  const r = new Reader(bytes, 8);
  const out: ComponentSection[] = [];
  while (r.pos < bytes.length) {
    const at = r.pos;
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    r.skip(size);
    out.push({ id, at, start, end: r.pos });
  }
  return out;
}

/** The component's top-level core modules, in order, each split. */
export interface ComponentLayout {
  /** sha256 of the component with each top-level module's data replaced by its code key */
  shapeKey: string;
  modules: (SplitModule & { bytes: Uint8Array })[];
}

/** The data segments of each top-level core module that can be split (null where it cannot), without hashing anything. */
export function componentData(component: Uint8Array): (DataSegments | null)[] {
  return componentSections(component)
    .filter((s) => s.id === COMPONENT_SECTION_CORE_MODULE)
    .map((s) => {
      const bytes = component.subarray(s.start, s.end);
      const segments = splittableData(bytes);
      return segments ? { segments, bytes } : null;
    });
}

export function componentLayout(component: Uint8Array): ComponentLayout {
  const hash = createHash('sha256');
  hash.update(component.subarray(0, 8));
  const modules: ComponentLayout['modules'] = [];
  for (const s of componentSections(component)) {
    if (s.id !== COMPONENT_SECTION_CORE_MODULE) {
      hash.update(component.subarray(s.at, s.end));
      continue;
    }
    const bytes = component.subarray(s.start, s.end);
    const split = splitModule(bytes);
    modules.push({ ...split, bytes });
    // length-prefixed so a module boundary cannot move unnoticed
    hash.update(`\u0000module:${split.codeKey}:${split.data ? 'split' : 'whole'}\u0000`);
  }
  return { shapeKey: `sha256:${hash.digest('hex')}`, modules };
}
