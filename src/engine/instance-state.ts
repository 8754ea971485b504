/**
 * What instance state a core module's code can change, read from its code at install: the engine
 * restores a used instance to its pristine state only where it can restore everything the code may
 * have changed (guest/guest-instance.ts).
 *
 * The state of a core instance is its memories, globals, tables and its passive data and element
 * segments (and, with GC, the objects its globals and tables reach). Memories and mutable globals
 * are always captured and restored. The rest depends on the code:
 *  - tables change only through table.set / table.fill / table.copy / table.grow / table.init:
 *    a module using one has its tables' entries captured and put back (a grown table cannot
 *    shrink: that instance is retired);
 *  - a segment can only be dropped (data.drop / elem.drop), and nothing can bring it back: a module
 *    that drops segments is never restored, every request gets a new instance;
 *  - GC objects (struct.set, array.set, ...) are mutable state no snapshot can copy: the same;
 *  - an instruction the scan does not know could be any of these: the same.
 * The facts ride in a custom section of the rewritten module (rewriteForEngine), so a worker reads
 * them without decoding the code again.
 */
import { Reader, WasmFormatError, Writer, readSections } from './wasm-binary.js';
import { UnsupportedInstruction, readMemarg, readValType, skipFcImmediates, skipImmediates } from './wasm-instructions.js';

export const INSTANCE_STATE_SECTION = 'alga:instance-state';

export interface InstanceStateFacts {
  /** the code can change table entries or sizes: restores compare and put back every entry */
  readonly mutatesTables: boolean;
  /** why a used instance of this module can never be restored (it is retired after every request), or null */
  readonly unrestorable: string | null;
}

/** What a module whose facts are unknown gets: never restored. */
export const UNKNOWN_INSTANCE_STATE: InstanceStateFacts = { mutatesTables: true, unrestorable: 'its instance-state facts are missing' };

const SECTION_CODE = 10;

/** Reads the facts from a module's code. */
export function scanInstanceState(bytes: Uint8Array): InstanceStateFacts {
  const found = { mutatesTables: false, unrestorable: null as string | null };
  try {
    const code = readSections(bytes).find((s) => s.id === SECTION_CODE);
    if (!code) return found;
    const r = new Reader(bytes, code.start, code.end);
    for (let n = r.u32(); n > 0 && found.unrestorable === null; n--) {
      const size = r.u32();
      const end = r.pos + size;
      for (let groups = r.u32(); groups > 0; groups--) {
        r.u32();
        readValType(r);
      }
      while (r.pos < end && found.unrestorable === null) scanInstruction(r, found);
      r.pos = end;
    }
  } catch (e) {
    if (e instanceof UnsupportedInstruction) return { mutatesTables: true, unrestorable: `it uses an instruction the runner cannot account for (${e.message})` };
    if (e instanceof WasmFormatError) return { mutatesTables: true, unrestorable: `its code could not be read (${e.message})` };
    throw e;
  }
  return found;
}

function scanInstruction(r: Reader, found: { mutatesTables: boolean; unrestorable: string | null }): void {
  const op = r.byte();
  switch (op) {
    case 0x26: // table.set
      found.mutatesTables = true;
      r.u32();
      return;
    case 0xfc: {
      const sub = r.u32();
      if (sub === 9) found.unrestorable = 'it drops data segments (data.drop)';
      else if (sub === 13) found.unrestorable = 'it drops element segments (elem.drop)';
      else if (sub === 12 || sub === 14 || sub === 15 || sub === 17) found.mutatesTables = true;
      skipFcImmediates(r, sub);
      return;
    }
    case 0xfb:
      found.unrestorable = 'it uses GC instructions (its objects are state no snapshot holds)';
      return;
    case 0xfd:
      skipSimdImmediates(r, r.u32());
      return;
    case 0xfe:
      skipAtomicImmediates(r, r.u32());
      return;
    // exceptions (legacy and exnref) and typed function references: no state of their own
    case 0x06: // try bt
      skipImmediates(r, 0x02);
      return;
    case 0x07: // catch tag
    case 0x08: // throw tag
    case 0x09: // rethrow depth
    case 0x18: // delegate depth
    case 0x14: // call_ref type
    case 0x15: // return_call_ref type
    case 0xd5: // br_on_null
    case 0xd6: // br_on_non_null
      r.u32();
      return;
    case 0x0a: // throw_ref
    case 0x19: // catch_all
    case 0xd3: // ref.eq
    case 0xd4: // ref.as_non_null
      return;
    case 0x1f: {
      // try_table bt (catch kind [tag] label)*
      skipImmediates(r, 0x02);
      for (let n = r.u32(); n > 0; n--) {
        const kind = r.byte();
        if (kind === 0 || kind === 1) r.u32();
        r.u32();
      }
      return;
    }
  }
  skipImmediates(r, op);
}

/** The 0xfd-prefixed (SIMD) instruction `sub`: memargs, lanes and constants. */
function skipSimdImmediates(r: Reader, sub: number): void {
  if (sub <= 11 || sub === 92 || sub === 93) readMemarg(r);
  else if (sub >= 84 && sub <= 91) {
    readMemarg(r);
    r.skip(1); // lane
  } else if (sub === 12 || sub === 13)
    r.skip(16); // v128.const, i8x16.shuffle
  else if (sub >= 21 && sub <= 34)
    r.skip(1); // extract/replace lane
  else if (sub > 0x113) throw new UnsupportedInstruction(`opcode 0xfd ${sub}`);
}

/** The 0xfe-prefixed (threads) instruction `sub`: a memarg, or atomic.fence's reserved byte. */
function skipAtomicImmediates(r: Reader, sub: number): void {
  if (sub === 3) r.skip(1);
  else if (sub <= 0x4e) readMemarg(r);
  else throw new UnsupportedInstruction(`opcode 0xfe ${sub}`);
}

/** The facts as a custom section to append to a module. */
export function instanceStateSection(facts: InstanceStateFacts): Uint8Array {
  const body = new Writer()
    .name(INSTANCE_STATE_SECTION)
    .bytes(new TextEncoder().encode(JSON.stringify(facts)))
    .toBytes();
  return new Writer().byte(0).u32(body.length).bytes(body).toBytes();
}

/** The facts a compiled module carries (UNKNOWN_INSTANCE_STATE when it carries none). */
export function instanceStateOf(module: WebAssembly.Module): InstanceStateFacts {
  const [section] = WebAssembly.Module.customSections(module, INSTANCE_STATE_SECTION);
  if (!section) return UNKNOWN_INSTANCE_STATE;
  const parsed = JSON.parse(new TextDecoder().decode(section)) as Partial<InstanceStateFacts>;
  if (typeof parsed.mutatesTables !== 'boolean' || (parsed.unrestorable !== null && typeof parsed.unrestorable !== 'string')) return UNKNOWN_INSTANCE_STATE;
  return { mutatesTables: parsed.mutatesTables, unrestorable: parsed.unrestorable };
}
