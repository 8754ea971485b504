/**
 * A guest memory's pristine state — what a restore puts back (guest-instance.ts) — held in one of
 * two ways:
 *  - a copy of the memory taken right after instantiation (any guest);
 *  - the memory's data segments: a module's memory right after instantiation is its active data
 *    segments over zeros, when no code ran during instantiation. With write tracking that is
 *    checked, not assumed — any store, bulk operation or host write during instantiation leaves a
 *    mark, and a marked guest takes the copy instead. It costs no copy of a 9 MiB memory per
 *    instance (the cold start's page faults) and no memory beyond the blocks the process shares.
 */
import type { ModuleData } from '../protocol.js';
import { DIRTY_BLOCK_BYTES } from '../write-tracking.js';

export interface PristineImage {
  readonly byteLength: number;
  /** A restore (one or more copyInto calls) begins. */
  beginRestore?(): void;
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

/**
 * Plain copies of the shared blocks that restores read, for guests restored again and again, within
 * a bound per thread. Copying out of a SharedArrayBuffer is about twice as slow as out of plain
 * memory, and a busy guest's restores read the same blocks request after request. A guest counts as
 * busy when it was restored within the thread's last RECENT_RESTORES restores: many guests served in
 * turn keep reading the shared blocks, rather than copying blocks they will not read again soon.
 */
const HOT_BLOCK_BYTES = 64 * 2 ** 20;
const RECENT_RESTORES = 8;
const recent: (ModuleData | undefined)[] = new Array<ModuleData | undefined>(RECENT_RESTORES);
let recentAt = 0;

/** Whether `data` was restored within the last RECENT_RESTORES restores of this thread; notes this one. */
function restoredRecently(data: ModuleData): boolean {
  const again = recent.includes(data);
  recent[recentAt] = data;
  recentAt = (recentAt + 1) % RECENT_RESTORES;
  return again;
}
const hotBlocks = new WeakMap<ModuleData, (Uint8Array | undefined)[]>();
/** bytes of plain copies per data, least recently restored first */
const hotOrder = new Map<ModuleData, number>();
let hotBytes = 0;

function plainBlock(data: ModuleData, index: number, block: Uint8Array): Uint8Array {
  let copies = hotBlocks.get(data);
  const copy = copies?.[index];
  if (copy) return copy;
  const made = block.slice();
  if (!copies) hotBlocks.set(data, (copies = []));
  copies[index] = made;
  hotOrder.set(data, (hotOrder.get(data) ?? 0) + made.byteLength);
  hotBytes += made.byteLength;
  for (const [oldest, bytes] of hotOrder) {
    if (hotBytes <= HOT_BLOCK_BYTES || oldest === data) break;
    hotOrder.delete(oldest);
    hotBlocks.delete(oldest);
    hotBytes -= bytes;
  }
  return made;
}

/** Marks a guest's data as the most recently restored. */
function touch(data: ModuleData): void {
  const bytes = hotOrder.get(data);
  if (bytes === undefined) return;
  hotOrder.delete(data);
  hotOrder.set(data, bytes);
}

/**
 * The initial memory of a module as shared 16 KiB blocks (data-image.ts): nothing is copied or
 * built per worker or per instance, and blocks equal across extensions are one block. Restores
 * of a busy guest read plain copies of the blocks they touch (bounded, above).
 */
export class BlockImage implements PristineImage {
  /** this restore reads plain copies (the guest is busy) */
  private plain = false;

  constructor(readonly data: ModuleData) {}

  beginRestore(): void {
    this.plain = restoredRecently(this.data);
    if (this.plain) touch(this.data);
  }

  get byteLength(): number {
    return this.data.byteLength;
  }

  copyInto(target: Uint8Array, from: number, to: number): void {
    const { data, plain } = this;
    const { blocks } = data;
    let at = from;
    while (at < to) {
      const index = Math.floor(at / DIRTY_BLOCK_BYTES);
      const blockStart = index * DIRTY_BLOCK_BYTES;
      const end = Math.min(to, blockStart + DIRTY_BLOCK_BYTES);
      const block = blocks[index];
      if (block) target.set((plain ? plainBlock(data, index, block) : block).subarray(at - blockStart, end - blockStart), at);
      else target.fill(0, at, end);
      at = end;
    }
  }

  /**
   * Turns `target`, which holds `from` exactly, into this image: copies the blocks whose ids
   * differ, in chunks of about `chunkBytes` with `between` called between them. Returns the bytes copied.
   */
  copyDifferent(from: BlockImage, target: Uint8Array, chunkBytes: number, between?: () => void): number {
    const mine = this.data;
    const theirs = from.data;
    let copied = 0;
    let sinceYield = 0;
    for (let i = 0; i < mine.blocks.length; i++) {
      if (mine.ids[i] === theirs.ids[i]) continue;
      const block = mine.blocks[i];
      const at = i * DIRTY_BLOCK_BYTES;
      if (block) target.set(block, at);
      else target.fill(0, at, Math.min(at + DIRTY_BLOCK_BYTES, target.byteLength));
      copied += DIRTY_BLOCK_BYTES;
      sinceYield += DIRTY_BLOCK_BYTES;
      if (between && sinceYield >= chunkBytes) {
        sinceYield = 0;
        between();
      }
    }
    return copied;
  }

  /** Writes the image into a memory that holds zeros (a new instance's), block by block. */
  writeInto(target: Uint8Array): void {
    if (target.byteLength < this.data.byteLength) throw new WebAssembly.RuntimeError(`data segments need ${this.data.byteLength} bytes of memory, the instance has ${target.byteLength}`);
    const { blocks } = this.data;
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i];
      if (block) target.set(block, i * DIRTY_BLOCK_BYTES);
    }
  }
}
