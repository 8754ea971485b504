/**
 * Write tracking for snapshot restores: a core-module rewrite that makes every write to linear
 * memory mark the 16 KiB block it lands in, so a restore copies the blocks a request wrote
 * instead of all of memory (one kitchen-sink request writes ~6 % of its 9 MiB).
 *
 * The marks live in guest memory, in a dirty map at [0, 1024): one byte per block. Node 20 has
 * no multi-memory and a table write costs ~5 ns against ~0 for a byte store, so the map shares
 * the guest's memory — which is sound only because the guest can never write the map:
 *  - every instrumented store first checks that it lands at or above 1024, else it traps (the
 *    instance is then retired; nothing is restored from its marks);
 *  - memory.fill / memory.copy / memory.init check their destination the same way and mark their
 *    whole range;
 *  - host (JS) writes into guest memory are tracked by the engine: it marks each import's return
 *    area, sized by the component's declared result type (component-types.ts), and every range an
 *    exported allocator returns, and it takes the map's marks into its own copy before the host
 *    writes into the map (guest-instance.ts, guest/dirty-blocks.ts).
 *
 * [0, 1024) is the first 1 KiB of the address space, which C toolchains keep free (wasm-ld's
 * default global base is 1024; with --stack-first it is the deepest end of the stack). A module
 * is instrumented only when that holds for its data, when it has one 32-bit memory of 1 to 16 MiB
 * to start with (1024 blocks; smaller memories come from hand-written guests, which may use low
 * memory, and cost little to copy whole), and when every instruction in it is one we decode; else
 * the engine restores all of memory as before. A module that imports its memory (the WASI adapter)
 * is instrumented whenever its code allows; the engine tracks a guest only when all its modules
 * touching memory are. A store of width w at address a with offset o writes
 * inside block(a) and the next one when o + w ≤ 16 KiB; the restore copies each marked block and
 * its successor, so marking block(a) (or block(a + o) for larger offsets) is enough. By the same
 * token, in straight-line code a store through a local that an earlier store through it marked
 * needs no mark of its own (MarkedLocals): ~18 % of the kitchen-sink's stores, 5 % less code.
 */
import { Reader, readActiveData } from './wasm-binary.js';
import { F32, F64, I32, I64, UnsupportedInstruction, readValType, skipFcImmediates, skipImmediates } from './wasm-instructions.js';

/** Bytes at the bottom of memory holding the dirty map. */
export const DIRTY_MAP_BYTES = 1024;
/** log2 of the block size a mark stands for (16 KiB). */
export const DIRTY_BLOCK_SHIFT = 14;
export const DIRTY_BLOCK_BYTES = 1 << DIRTY_BLOCK_SHIFT;
/** Custom section that says a module was instrumented (read back with WebAssembly.Module.customSections). */
export const WRITE_TRACKING_SECTION = 'alga:write-tracking';

export type InstrumentResult = { kind: 'tracked'; bytes: Uint8Array; marks: MarkCounts } | { kind: 'untracked'; reason: string };

const MAX_TRACKED_BYTES = DIRTY_MAP_BYTES * DIRTY_BLOCK_BYTES;
const MIN_TRACKED_BYTES = 1 << 20;
const MASK = DIRTY_MAP_BYTES - 1;

/** Store opcodes: width in bytes and the value type on the stack. */
const STORES: Record<number, { width: number; type: number }> = {
  0x36: { width: 4, type: I32 },
  0x37: { width: 8, type: I64 },
  0x38: { width: 4, type: F32 },
  0x39: { width: 8, type: F64 },
  0x3a: { width: 1, type: I32 },
  0x3b: { width: 2, type: I32 },
  0x3c: { width: 1, type: I64 },
  0x3d: { width: 2, type: I64 },
  0x3e: { width: 4, type: I64 },
};

class Untrackable extends Error {}

/** A growable byte buffer: the code section of a 12 MB module is rewritten in one pass. */
class Out {
  buf: Uint8Array;
  len = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(x: number): void {
    this.room(1);
    this.buf[this.len++] = x;
  }
  bytes(src: Uint8Array, start: number, end: number): void {
    this.room(end - start);
    this.buf.set(src.subarray(start, end), this.len);
    this.len += end - start;
  }
  u32(value: number): void {
    let v = value >>> 0;
    this.room(5);
    do {
      let x = v & 0x7f;
      v >>>= 7;
      if (v !== 0) x |= 0x80;
      this.buf[this.len++] = x;
    } while (v !== 0);
  }
  s32(value: number): void {
    let v = value | 0;
    this.room(5);
    for (;;) {
      const x = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (x & 0x40) === 0) || (v === -1 && (x & 0x40) !== 0)) {
        this.buf[this.len++] = x;
        return;
      }
      this.buf[this.len++] = x | 0x80;
    }
  }
  op(...codes: number[]): void {
    this.room(codes.length);
    for (const c of codes) this.buf[this.len++] = c;
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

interface ModuleShape {
  funcParamCounts: number[];
  importedFunctions: number;
  memories: number;
  memory64: boolean;
  definedMemoryBytes: number | null;
}

/** Adds write tracking to a core module, or says why it cannot. */
export function instrumentWrites(bytes: Uint8Array): InstrumentResult {
  try {
    const marks: MarkCounts = { stores: 0, elided: 0 };
    return { kind: 'tracked', bytes: rewrite(bytes, marks), marks };
  } catch (e) {
    if (e instanceof Untrackable || e instanceof UnsupportedInstruction) return { kind: 'untracked', reason: e.message };
    throw e;
  }
}

function rewrite(bytes: Uint8Array, counts: MarkCounts): Uint8Array {
  const sections = readSectionList(bytes);
  const shape = readShape(bytes, sections);
  if (shape.memories > 1) throw new Untrackable('more than one memory');
  if (shape.memory64) throw new Untrackable('a 64-bit memory');
  if (shape.definedMemoryBytes !== null && shape.definedMemoryBytes > MAX_TRACKED_BYTES) throw new Untrackable(`initial memory above ${MAX_TRACKED_BYTES / 2 ** 20} MiB`);
  // Small memories come from hand-written or unusual toolchains, which may well use the first KiB;
  // restoring all of such a memory costs next to nothing anyway.
  if (shape.definedMemoryBytes !== null && shape.definedMemoryBytes < MIN_TRACKED_BYTES) throw new Untrackable(`initial memory under ${MIN_TRACKED_BYTES / 2 ** 20} MiB`);
  const data = sections.find((s) => s.id === 11);
  if (data && shape.memories === 1) checkDataOffsets(bytes, data);

  const out = new Out(bytes.length * 2 + 64);
  out.bytes(bytes, 0, 8);
  for (const s of sections) {
    if (s.id === 10 && shape.memories === 1) {
      const body = rewriteCode(bytes, s, shape, counts);
      out.byte(10);
      out.u32(body.length);
      out.bytes(body, 0, body.length);
    } else {
      out.byte(s.id);
      out.u32(s.end - s.start);
      out.bytes(bytes, s.start, s.end);
    }
  }
  // the marker: a custom section, so nothing about the module's behaviour changes
  const name = new TextEncoder().encode(WRITE_TRACKING_SECTION);
  const payload = new Out(16);
  payload.u32(name.length);
  payload.bytes(name, 0, name.length);
  payload.byte(1); // format version
  out.byte(0);
  out.u32(payload.len);
  out.bytes(payload.view(), 0, payload.len);
  return out.view().slice();
}

interface SectionRef {
  id: number;
  start: number;
  end: number;
}

function readSectionList(bytes: Uint8Array): SectionRef[] {
  const r = new Reader(bytes, 8, bytes.length);
  const out: SectionRef[] = [];
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    out.push({ id, start: r.pos, end: r.pos + size });
    r.skip(size);
  }
  return out;
}

function readLimitsShape(r: Reader): { is64: boolean; min: number } {
  const flags = r.byte();
  const is64 = (flags & 0x04) !== 0;
  const min = r.u32();
  if (flags & 0x01) r.u32();
  return { is64, min };
}

function readShape(bytes: Uint8Array, sections: SectionRef[]): ModuleShape {
  const typeParams: number[] = [];
  const shape: ModuleShape = { funcParamCounts: [], importedFunctions: 0, memories: 0, memory64: false, definedMemoryBytes: null };
  const find = (id: number) => sections.find((s) => s.id === id);
  const types = find(1);
  if (types) {
    const r = new Reader(bytes, types.start, types.end);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const form = r.byte();
      if (form !== 0x60) throw new Untrackable(`type form 0x${form.toString(16)}`);
      const params = r.u32();
      for (let p = 0; p < params; p++) readValType(r);
      const results = r.u32();
      for (let p = 0; p < results; p++) readValType(r);
      typeParams.push(params);
    }
  }
  const imports = find(2);
  if (imports) {
    const r = new Reader(bytes, imports.start, imports.end);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      r.skip(r.u32());
      r.skip(r.u32());
      const kind = r.byte();
      if (kind === 0x00) {
        shape.funcParamCounts.push(typeParams[r.u32()] ?? 0);
        shape.importedFunctions++;
      } else if (kind === 0x01) {
        readValType(r);
        readLimitsShape(r);
      } else if (kind === 0x02) {
        shape.memories++;
        if (readLimitsShape(r).is64) shape.memory64 = true;
      } else if (kind === 0x03) {
        readValType(r);
        r.byte();
      } else throw new Untrackable(`import kind ${kind}`);
    }
  }
  const funcs = find(3);
  if (funcs) {
    const r = new Reader(bytes, funcs.start, funcs.end);
    const n = r.u32();
    for (let i = 0; i < n; i++) shape.funcParamCounts.push(typeParams[r.u32()] ?? 0);
  }
  const mems = find(5);
  if (mems) {
    const r = new Reader(bytes, mems.start, mems.end);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const l = readLimitsShape(r);
      shape.memories++;
      if (l.is64) shape.memory64 = true;
      shape.definedMemoryBytes = l.min * 65536;
    }
  }
  return shape;
}

/** Active data segments must not initialise the dirty map's bytes. */
function checkDataOffsets(bytes: Uint8Array, data: SectionRef): void {
  const segments = readActiveData(new Reader(bytes, data.start, data.end));
  if (!segments) throw new Untrackable('a data segment at a computed offset');
  const low = segments.find((s) => s.offset < DIRTY_MAP_BYTES);
  if (low) throw new Untrackable(`a data segment at ${low.offset}, inside the first ${DIRTY_MAP_BYTES} bytes`);
}

/** Temporaries appended to every function's locals: indices relative to the first new local. */
const T_ADDR = 0;
const T_V32 = 1;
const T_D = 2;
const T_X = 3;
const T_N = 4;
const T_B = 5;
const T_E = 6;
const T_V64 = 7;
const T_F32 = 8;
const T_F64 = 9;

function rewriteCode(bytes: Uint8Array, section: SectionRef, shape: ModuleShape, counts: MarkCounts): Uint8Array {
  const r = new Reader(bytes, section.start, section.end);
  const count = r.u32();
  const out = new Out((section.end - section.start) * 2 + 16);
  out.u32(count);
  const body = new Out(1 << 16);
  for (let f = 0; f < count; f++) {
    const size = r.u32();
    const end = r.pos + size;
    const params = shape.funcParamCounts[shape.importedFunctions + f] ?? 0;
    body.len = 0;
    // locals: existing groups, then our temporaries
    const groups = r.u32();
    let locals = 0;
    const groupsStart = r.pos;
    for (let g = 0; g < groups; g++) {
      locals += r.u32();
      r.byte();
    }
    const base = params + locals;
    body.u32(groups + 4);
    body.bytes(bytes, groupsStart, r.pos);
    body.u32(7);
    body.byte(I32);
    body.u32(1);
    body.byte(I64);
    body.u32(1);
    body.byte(F32);
    body.u32(1);
    body.byte(F64);
    instrumentBody(bytes, r, end, body, base, counts);
    out.u32(body.len);
    out.bytes(body.buf, 0, body.len);
    r.pos = end;
  }
  return out.view();
}

/**
 * What the straight-line code seen so far has proven about locals used as store addresses: a
 * store `local.get L; <value>; store offset=o` (o + width ≤ 16 KiB) marked block(L), and the
 * restore copies that block and the next, which hold every byte any such store through L can
 * write — so a later one, while L keeps its value, needs no mark of its own. Its map check is
 * implied too when its offset is at least one already checked (L + o ≥ 1024 then holds).
 * Marks stay set until the host restores the instance after the execution (the guest cannot write
 * the map; the host takes the map's marks before it writes there), so calls in between do not
 * matter. A write to L forgets L; any control flow (a merge point, a branch) forgets everything.
 */
class MarkedLocals {
  /** local index → the smallest offset o for which L + o ≥ DIRTY_MAP_BYTES is known */
  private readonly safeFrom = new Map<number, number>();

  forget(local?: number): void {
    if (local === undefined) this.safeFrom.clear();
    else this.safeFrom.delete(local);
  }

  /** After a store through `local` at `offset` marked block(local) (its map check, if any, passed). */
  marked(local: number, offset: number): void {
    this.safeFrom.set(local, Math.min(offset, this.safeFrom.get(local) ?? offset));
  }

  /** undefined: the store must mark; else whether it still needs its map check. */
  covers(local: number, offset: number): { needsCheck: boolean } | undefined {
    const from = this.safeFrom.get(local);
    if (from === undefined) return undefined;
    return { needsCheck: offset < DIRTY_MAP_BYTES && offset < from };
  }
}

/** Opcodes after which the straight-line reasoning of MarkedLocals stops: control flow. */
const CONTROL_OPS = new Set([0x00, 0x02, 0x03, 0x04, 0x05, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x12, 0x13]);

export interface MarkCounts {
  stores: number;
  /** stores left without a mark of their own (see MarkedLocals) */
  elided: number;
}

function instrumentBody(bytes: Uint8Array, r: Reader, end: number, out: Out, base: number, counts: MarkCounts): void {
  let copied = r.pos;
  const flush = (upTo: number) => {
    out.bytes(bytes, copied, upTo);
    copied = upTo;
  };
  const localOp = (op: number, index: number) => {
    out.byte(op);
    out.u32(base + index);
  };
  const trapBelowMap = (offset: number) => {
    // [address] → trap unless address + offset >= DIRTY_MAP_BYTES
    out.byte(0x41);
    out.s32(DIRTY_MAP_BYTES - offset);
    out.op(0x49, 0x04, 0x40, 0x00, 0x0b); // i32.lt_u; if; unreachable; end
  };
  const known = new MarkedLocals();
  // the instruction before the current one, when it pushes a value without side effects (a
  // constant or a local.get): a store's value, which can then be re-emitted after the mark
  // instead of parked in a temporary local
  let producerAt = -1;
  // the local read by the instruction before that producer (-1: not a local.get): the store's address
  let addressLocal = -1;
  // the local read by the previous instruction, when it was a local.get
  let previousGet = -1;
  while (r.pos < end) {
    const at = r.pos;
    const op = r.byte();
    if (op >= 0x36 && op <= 0x3e) {
      const flags = r.u32();
      if (flags & 0x40) throw new Untrackable('multi-memory');
      const offset = r.u32();
      const store = STORES[op]!;
      const small = offset + store.width <= DIRTY_BLOCK_BYTES;
      const address = producerAt >= 0 && small ? addressLocal : -1;
      counts.stores++;
      const covered = address >= 0 ? known.covers(address, offset) : undefined;
      if (covered) {
        counts.elided++;
        flush(at);
        if (covered.needsCheck) {
          // [address, value]: check the address from its local, leaving the stack as it is
          out.byte(0x20);
          out.u32(address);
          trapBelowMap(offset);
          known.marked(address, offset);
        }
        flush(r.pos); // the original store, byte for byte
        producerAt = addressLocal = previousGet = -1;
        continue;
      }
      // [address, value] → value kept: the producer's bytes, or a temporary
      const producer = producerAt >= 0 ? bytes.subarray(producerAt, at) : null;
      flush(producer ? producerAt : at);
      const temp = store.type === I32 ? T_V32 : store.type === I64 ? T_V64 : store.type === F32 ? T_F32 : T_F64;
      if (!producer) localOp(0x21, temp); // local.set value
      localOp(0x22, T_ADDR); // local.tee address
      if (offset < DIRTY_MAP_BYTES) {
        trapBelowMap(offset);
        localOp(0x20, T_ADDR);
      }
      if (!small) {
        out.byte(0x41);
        out.s32(offset);
        out.byte(0x6a); // i32.add
      }
      emitMark(out);
      localOp(0x20, T_ADDR);
      if (producer) out.bytes(producer, 0, producer.length);
      else localOp(0x20, temp);
      copied = at; // a producer's bytes before `at` were moved above, not to be copied again
      flush(r.pos); // the original store, byte for byte
      if (address >= 0) known.marked(address, offset);
      producerAt = addressLocal = previousGet = -1;
      continue;
    }
    const getBefore = previousGet;
    producerAt = addressLocal = previousGet = -1;
    if (op === 0xfc) {
      const sub = r.u32();
      if (sub === 8 || sub === 10 || sub === 11) {
        // memory.init dataidx 0 | memory.copy 0 0 | memory.fill 0
        if (sub === 8) r.u32();
        const mem = r.u32();
        if (sub === 10 && r.u32() !== 0) throw new Untrackable('multi-memory');
        if (mem !== 0) throw new Untrackable('multi-memory');
        flush(at);
        emitRangeMark(out, localOp);
        flush(r.pos);
        continue;
      }
      if (skipFcImmediates(r, sub) > 0) throw new Untrackable('multi-memory');
      continue;
    }
    if (op === 0x20) {
      previousGet = r.u32();
    } else if (op === 0x21 || op === 0x22) {
      known.forget(r.u32());
    } else {
      if (CONTROL_OPS.has(op)) known.forget();
      if (skipImmediates(r, op) > 0) throw new Untrackable('multi-memory');
    }
    if (op === 0x20 || (op >= 0x41 && op <= 0x44)) {
      producerAt = at; // local.get, i32/i64/f32/f64.const
      addressLocal = getBefore;
    }
  }
  flush(end);
}

/** [address] → marks its block: dirty[(address >> 14) & 1023] = 1. */
function emitMark(out: Out): void {
  out.byte(0x41);
  out.s32(DIRTY_BLOCK_SHIFT);
  out.byte(0x76); // i32.shr_u
  out.byte(0x41);
  out.s32(MASK);
  out.byte(0x71); // i32.and
  out.byte(0x41);
  out.s32(1);
  out.op(0x3a, 0x00, 0x00); // i32.store8 align=0 offset=0
}

/** [dest, x, n] → checks dest and marks blocks of [dest, dest + n), leaving the stack as it was. */
function emitRangeMark(out: Out, localOp: (op: number, index: number) => void): void {
  const i32const = (v: number) => {
    out.byte(0x41);
    out.s32(v);
  };
  localOp(0x21, T_N);
  localOp(0x21, T_X);
  localOp(0x21, T_D);
  localOp(0x20, T_N);
  out.op(0x04, 0x40); // if n != 0
  localOp(0x20, T_D);
  i32const(DIRTY_MAP_BYTES);
  out.op(0x49, 0x04, 0x40, 0x00, 0x0b); // dest < map end: trap
  localOp(0x20, T_D);
  i32const(DIRTY_BLOCK_SHIFT);
  out.byte(0x76);
  localOp(0x21, T_B);
  localOp(0x20, T_D);
  localOp(0x20, T_N);
  out.byte(0x6a);
  i32const(1);
  out.byte(0x6b); // i32.sub
  i32const(DIRTY_BLOCK_SHIFT);
  out.byte(0x76);
  localOp(0x21, T_E);
  // a range past the map (or wrapped: the op will trap) marks every block, once
  localOp(0x20, T_E);
  localOp(0x20, T_B);
  out.byte(0x6b);
  i32const(MASK);
  out.byte(0x4b); // i32.gt_u
  out.op(0x04, 0x40);
  localOp(0x20, T_B);
  i32const(MASK);
  out.byte(0x6a);
  localOp(0x21, T_E);
  out.byte(0x0b);
  out.op(0x02, 0x40, 0x03, 0x40); // block; loop
  localOp(0x20, T_B);
  localOp(0x20, T_E);
  out.op(0x4b, 0x0d, 0x01); // b > e: br_if 1 (out of the block)
  localOp(0x20, T_B);
  i32const(MASK);
  out.byte(0x71);
  i32const(1);
  out.op(0x3a, 0x00, 0x00);
  localOp(0x20, T_B);
  i32const(1);
  out.byte(0x6a);
  localOp(0x21, T_B);
  out.op(0x0c, 0x00, 0x0b, 0x0b); // br 0; end loop; end block
  out.byte(0x0b); // end if
  localOp(0x20, T_D);
  localOp(0x20, T_X);
  localOp(0x20, T_N);
}
