/**
 * The host side of write tracking (see ../write-tracking.ts): which 16 KiB blocks of guest memory
 * may differ from the pristine image, so a restore copies only those.
 *
 * Wasm writes mark the dirty map at [0, 1024) of guest memory; the guest cannot write the map (its
 * stores into it trap). Host (JS) writes are marked here: jco writes guest memory only into areas
 * an exported allocator (`cabi_realloc`) returned and into the return areas of imports — so every
 * allocation is marked, and every return area, sized by the result type the component declares
 * (component-types.ts). Before the host writes into the map (a guest can hand out such an
 * address), the map's marks are taken into `marks` here, so that write cannot erase one.
 *
 * A restore copies every marked block and the next: a wasm store of up to 8 bytes at an offset
 * under 16 KiB lands in the block it marks or the one after.
 */
import { DIRTY_BLOCK_BYTES, DIRTY_BLOCK_SHIFT, DIRTY_MAP_BYTES } from '../write-tracking.js';
import type { PristineImage } from './pristine-image.js';

const WORDS = DIRTY_MAP_BYTES / 4;

export class DirtyBlocks {
  /** host-side marks, one byte per block (same layout as the map) */
  private readonly marks = new Uint8Array(DIRTY_MAP_BYTES);
  private readonly marks32 = new Uint32Array(this.marks.buffer);
  private map32: Uint32Array | null = null;

  constructor(private readonly memory: WebAssembly.Memory) {}

  /** Takes the guest-written marks into the host's copy. */
  absorb(): void {
    let map = this.map32;
    if (!map || map.buffer !== this.memory.buffer) map = this.map32 = new Uint32Array(this.memory.buffer, 0, WORDS);
    const marks = this.marks32;
    for (let i = 0; i < WORDS; i++) marks[i]! |= map[i]!;
  }

  /** Whether nothing has been marked since the last restore (or since instantiation). */
  isClean(): boolean {
    this.absorb();
    return this.marks32.every((word) => word === 0);
  }

  /** The block holding `address` (an i32 that may be a pointer). */
  markAddress(address: number): void {
    const block = (address >>> 0) >>> DIRTY_BLOCK_SHIFT;
    if (block < DIRTY_MAP_BYTES) this.marks[block] = 1;
  }

  /** Every block of [address, address + length). */
  markRange(address: number, length: number): void {
    if (length <= 0) return;
    const first = (address >>> 0) >>> DIRTY_BLOCK_SHIFT;
    const last = Math.min(DIRTY_MAP_BYTES - 1, Math.floor(((address >>> 0) + length - 1) / DIRTY_BLOCK_BYTES));
    for (let b = first; b <= last; b++) this.marks[b] = 1;
  }

  /**
   * Copies every marked block and its successor (and block 0, which holds the map) from
   * `pristine` into memory, then forgets the marks; returns the bytes copied. `between` runs about
   * every `chunkBytes` copied.
   */
  restore(pristine: PristineImage, chunkBytes: number, between?: () => void): number {
    this.absorb();
    pristine.beginRestore?.();
    const target = new Uint8Array(this.memory.buffer);
    const blocks = Math.ceil(pristine.byteLength / DIRTY_BLOCK_BYTES);
    const marks = this.marks;
    let sinceBreak = 0;
    let copied = 0;
    let b = 0;
    while (b < blocks) {
      if (b !== 0 && !marks[b] && !marks[b - 1]) {
        b++;
        continue;
      }
      // a run of blocks to copy
      let end = b + 1;
      while (end < blocks && (marks[end] || marks[end - 1])) end++;
      const stop = Math.min(end * DIRTY_BLOCK_BYTES, pristine.byteLength);
      for (let from = b * DIRTY_BLOCK_BYTES; from < stop;) {
        const to = Math.min(stop, from + chunkBytes - sinceBreak);
        pristine.copyInto(target, from, to);
        sinceBreak += to - from;
        copied += to - from;
        from = to;
        if (sinceBreak >= chunkBytes) {
          sinceBreak = 0;
          between?.();
        }
      }
      b = end;
    }
    marks.fill(0);
    return copied;
  }
}
