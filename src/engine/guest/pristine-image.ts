/**
 * A guest memory's pristine state — what a restore puts back (guest-instance.ts) — held in one of
 * two ways:
 *  - a copy of the memory taken right after instantiation (any guest);
 *  - the memory's data segments: a module's memory right after instantiation is its active data
 *    segments over zeros, when no code ran during instantiation. With write tracking that is
 *    checked, not assumed — any store, bulk operation or host write during instantiation leaves a
 *    mark, and a marked guest takes the copy instead. It costs no copy of a 9 MiB memory per
 *    instance (the cold start's page faults) and no memory beyond the segments' bytes, which the
 *    workers share.
 */
import type { ModuleData } from '../protocol.js';
import { DIRTY_BLOCK_BYTES } from '../write-tracking.js';

export interface PristineImage {
  readonly byteLength: number;
  /** Writes the pristine bytes of [from, to) into `target` at the same offsets. */
  copyInto(target: Uint8Array, from: number, to: number): void;
}

export class CopiedImage implements PristineImage {
  constructor(readonly bytes: Uint8Array) {}

  get byteLength(): number {
    return this.bytes.byteLength;
  }

  copyInto(target: Uint8Array, from: number, to: number): void {
    target.set(this.bytes.subarray(from, to), from);
  }
}

const ZERO = 1;
const MATERIALIZED = 2;

/**
 * The image is built block by block (16 KiB, the dirty map's unit) the first time a restore needs
 * the block, then kept: a guest's restores touch the same ~100 blocks again and again, while most
 * of its 9 MiB are never written. Blocks no segment reaches are filled with zeros, never built.
 */
export class DataSegmentImage implements PristineImage {
  private readonly bytes: Uint8Array;
  private readonly segments: ModuleData['segments'];
  /** segments in address order without overlaps (wizer writes thousands that way): found by binary search */
  private readonly ordered: boolean;
  /** per block: 0 not looked at yet, ZERO, MATERIALIZED */
  private readonly state: Uint8Array;
  /** allocated on first use; only built blocks are ever touched */
  private image: Uint8Array | null = null;

  constructor(
    data: ModuleData,
    readonly byteLength: number,
  ) {
    this.bytes = new Uint8Array(data.bytes);
    this.segments = data.segments;
    this.ordered = data.segments.every((s, i, all) => i === 0 || all[i - 1]!.offset + all[i - 1]!.length <= s.offset);
    this.state = new Uint8Array(Math.ceil(byteLength / DIRTY_BLOCK_BYTES));
  }

  copyInto(target: Uint8Array, from: number, to: number): void {
    let at = from;
    while (at < to) {
      const block = Math.floor(at / DIRTY_BLOCK_BYTES);
      const state = this.state[block] || this.build(block);
      // extend over following blocks in the same state, to copy or fill a run at once
      let end = Math.min(to, (block + 1) * DIRTY_BLOCK_BYTES);
      while (end < to && (this.state[end / DIRTY_BLOCK_BYTES] || this.build(end / DIRTY_BLOCK_BYTES)) === state) end = Math.min(to, end + DIRTY_BLOCK_BYTES);
      if (state === ZERO) target.fill(0, at, end);
      else target.set(this.image!.subarray(at, end), at);
      at = end;
    }
  }

  private build(block: number): number {
    const from = block * DIRTY_BLOCK_BYTES;
    const to = Math.min(this.byteLength, from + DIRTY_BLOCK_BYTES);
    const segments = this.segments;
    let state = ZERO;
    // in segment order: a later segment overwrites an earlier one where they overlap, as instantiation does
    for (let i = this.ordered ? this.firstEndingAfter(from) : 0; i < segments.length; i++) {
      const s = segments[i]!;
      if (this.ordered && s.offset >= to) break;
      const start = Math.max(from, s.offset);
      const end = Math.min(to, s.offset + s.length);
      if (start >= end) continue;
      state = MATERIALIZED;
      this.image ??= new Uint8Array(this.byteLength);
      this.image.set(this.bytes.subarray(s.at + (start - s.offset), s.at + (end - s.offset)), start);
    }
    this.state[block] = state;
    return state;
  }

  /** Index of the first (ordered) segment that ends after `address`. */
  private firstEndingAfter(address: number): number {
    let lo = 0;
    let hi = this.segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = this.segments[mid]!;
      if (s.offset + s.length <= address) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
