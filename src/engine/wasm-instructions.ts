/**
 * Decoding the immediates of core WebAssembly instructions, shared by the passes that read code:
 * write tracking (write-tracking.ts) and the instance-state scan (instance-state.ts).
 *
 * `skipImmediates` knows the MVP instructions plus reference types, bulk memory, tail calls and
 * typed `select` — the set every pass here understands. Anything else throws
 * UnsupportedInstruction: a pass that must see every memory or table write refuses the module
 * (or treats it the safe way) instead of misreading it. Passes that can decode more (SIMD,
 * atomics, exceptions) do so themselves before falling back to this.
 */
import type { Reader } from './wasm-binary.js';

export class UnsupportedInstruction extends Error {
  override readonly name = 'UnsupportedInstruction';
}

/** Value types, as the binary format spells them. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;
const V128 = 0x7b;
const FUNCREF = 0x70;
const EXTERNREF = 0x6f;

/** A value type; a typed reference (function-references / GC) is refused. */
export function readValType(r: Reader): number {
  const t = r.byte();
  if (t === 0x63 || t === 0x64) throw new UnsupportedInstruction('typed function references');
  return t;
}

export function skipBlockType(r: Reader): void {
  const t = r.bytes[r.pos]!;
  if (t === 0x40 || t === I32 || t === I64 || t === F32 || t === F64 || t === V128 || t === FUNCREF || t === EXTERNREF) r.pos++;
  else r.skipSigned(); // a type index (s33)
}

/**
 * Skips the immediates of `op` (already read). Returns the memory index a memory instruction
 * names (0 for the only memory of a single-memory module), or -1 for any other instruction.
 * Stores (0x36-0x3e) are decoded like loads; write tracking reads their memarg itself.
 */
export function skipImmediates(r: Reader, op: number): number {
  switch (op) {
    case 0x00:
    case 0x01:
    case 0x05:
    case 0x0b:
    case 0x0f:
    case 0x1a:
    case 0x1b:
    case 0xd1:
      return -1;
    case 0x02:
    case 0x03:
    case 0x04:
      skipBlockType(r);
      return -1;
    case 0x0c:
    case 0x0d:
    case 0x10:
    case 0x12:
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
    case 0x24:
    case 0x25:
    case 0x26:
    case 0xd2:
      r.u32();
      return -1;
    case 0x0e: {
      const n = r.u32();
      for (let i = 0; i <= n; i++) r.u32();
      return -1;
    }
    case 0x11:
    case 0x13:
      r.u32();
      r.u32();
      return -1;
    case 0x1c: {
      const n = r.u32();
      for (let i = 0; i < n; i++) readValType(r);
      return -1;
    }
    case 0x3f:
    case 0x40:
      return r.u32();
    case 0x41:
    case 0x42:
      r.skipSigned();
      return -1;
    case 0x43:
      r.skip(4);
      return -1;
    case 0x44:
      r.skip(8);
      return -1;
    case 0xd0:
      r.skipSigned();
      return -1;
    case 0xfc:
      return skipFcImmediates(r, r.u32());
  }
  if (op >= 0x28 && op <= 0x3e) return readMemarg(r).memory;
  if (op >= 0x45 && op <= 0xc4) return -1; // numeric, no immediates
  throw new UnsupportedInstruction(`opcode 0x${op.toString(16)}`);
}

/** A load's or store's memarg: alignment flags (bit 6: a memory index follows), memory, offset. */
export function readMemarg(r: Reader): { memory: number; offset: number } {
  const flags = r.u32();
  const memory = flags & 0x40 ? r.u32() : 0;
  return { memory, offset: r.u32() };
}

/** The 0xfc-prefixed instruction `sub` (already read): saturating truncations, bulk memory and tables. */
export function skipFcImmediates(r: Reader, sub: number): number {
  if (sub <= 7) return -1; // saturating truncations
  switch (sub) {
    case 8: // memory.init dataidx mem
      r.u32();
      return r.u32();
    case 10: {
      // memory.copy dst src
      const dst = r.u32();
      const src = r.u32();
      return dst || src;
    }
    case 11: // memory.fill mem
      return r.u32();
    case 9: // data.drop
    case 13: // elem.drop
    case 15: // table.grow
    case 16: // table.size
    case 17: // table.fill
      r.u32();
      return -1;
    case 12: // table.init
    case 14: // table.copy
      r.u32();
      r.u32();
      return -1;
  }
  throw new UnsupportedInstruction(`opcode 0xfc ${sub}`);
}
