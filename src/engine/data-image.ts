/**
 * A module's initial memory as 16 KiB blocks (the dirty map's unit), each either zeros or a view
 * on shared memory that every worker reads. Equal blocks are stored once per process, whichever
 * extension they came from: componentize-js extensions share most of their pre-initialised heaps,
 * so a thousand of them cost what they do not share. A block is reused only when its bytes are
 * equal (hashed, then compared), so one extension can never be handed another's data.
 *
 * Block ids are equal exactly when the blocks' bytes are (within this process): a worker turning an
 * instance from one extension's pristine memory into another's copies only the blocks whose ids
 * differ (guest/instance-pool.ts).
 */
import { createHash } from 'node:crypto';
import type { ModuleData } from './protocol.js';
import { DIRTY_BLOCK_BYTES } from './write-tracking.js';
import type { DataSegments } from './module-split.js';

interface PooledBlock {
  id: number;
  bytes: WeakRef<Uint8Array>;
}

/** Ids are unique across pools: images of two pools never claim equal blocks by accident. */
let nextId = 1;

export class BlockPool {
  private readonly blocks = new Map<string, PooledBlock>();
  /** bytes of blocks this pool allocated (what was not shared) */
  allocatedBytes = 0;

  /** The image of a memory of `byteLength` bytes holding `data`'s segments over zeros. */
  image(data: DataSegments, byteLength: number): ModuleData {
    const count = Math.ceil(byteLength / DIRTY_BLOCK_BYTES);
    const scratch = new Uint8Array(count * DIRTY_BLOCK_BYTES);
    const touched = new Uint8Array(count);
    // in segment order: a later segment overwrites an earlier one where they overlap, as instantiation does
    for (const s of data.segments) {
      if (s.offset + s.length > byteLength) throw new RangeError(`a data segment at ${s.offset} (+${s.length}) is outside the initial memory of ${byteLength} bytes`);
      scratch.set(data.bytes.subarray(s.start, s.start + s.length), s.offset);
      for (let b = Math.floor(s.offset / DIRTY_BLOCK_BYTES); b * DIRTY_BLOCK_BYTES < s.offset + s.length; b++) touched[b] = 1;
    }
    const blockAt = (b: number) => scratch.subarray(b * DIRTY_BLOCK_BYTES, (b + 1) * DIRTY_BLOCK_BYTES);
    const blocks: (Uint8Array | null)[] = new Array<Uint8Array | null>(count).fill(null);
    const ids = new Int32Array(count);
    // blocks the pool lacks: the first of each distinct content, and the later ones that repeat it
    const fresh: { index: number; hash: string }[] = [];
    const repeats: { index: number; of: number }[] = [];
    const firstOf = new Map<string, number>();
    for (let b = 0; b < count; b++) {
      if (!touched[b]) continue;
      const bytes = blockAt(b);
      if (isZero(bytes)) continue;
      const hash = createHash('sha1').update(bytes).digest('base64');
      const known = this.blocks.get(hash);
      const shared = known?.bytes.deref();
      if (known && shared && equalBytes(shared, bytes)) {
        blocks[b] = shared;
        ids[b] = known.id;
        continue;
      }
      const first = firstOf.get(hash);
      if (first !== undefined && equalBytes(blockAt(first), bytes)) repeats.push({ index: b, of: first });
      else {
        if (first === undefined) firstOf.set(hash, b);
        fresh.push({ index: b, hash });
      }
    }
    if (fresh.length > 0) {
      const memory = new SharedArrayBuffer(fresh.length * DIRTY_BLOCK_BYTES);
      this.allocatedBytes += memory.byteLength;
      fresh.forEach(({ index, hash }, i) => {
        const view = new Uint8Array(memory, i * DIRTY_BLOCK_BYTES, DIRTY_BLOCK_BYTES);
        view.set(blockAt(index));
        const id = nextId++;
        // a hash seen with other bytes (never expected) keeps its first owner; this block keeps its own id
        if (!this.blocks.get(hash)?.bytes.deref()) this.blocks.set(hash, { id, bytes: new WeakRef(view) });
        blocks[index] = view;
        ids[index] = id;
      });
    }
    for (const { index, of } of repeats) {
      blocks[index] = blocks[of]!;
      ids[index] = ids[of]!;
    }
    return { byteLength, blocks, ids };
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function isZero(bytes: Uint8Array): boolean {
  const words = new BigUint64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
  return true;
}
