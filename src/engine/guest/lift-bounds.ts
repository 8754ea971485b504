/**
 * Bounds on what the host copies out of guest memory, checked before the copy: the strings and
 * byte lists of every host-call argument and of the handler's response. jco's glue copies them as
 * the guest describes them (pointer and length); the glue patch in glue-patches.ts (boundedLifts)
 * routes every such copy through `LiftBounds`, so a guest cannot make the host decode a 100 MiB
 * string only to cut it to a log line's 8 KiB, and a pointer past the end of memory is a trap, not
 * the silently shortened copy `ArrayBuffer.slice` would make.
 *
 * The worker sets the limits per execution; `phase` tells whether the copy is a host-call argument
 * or the response (the guest's handler returned), which decides the fault a refusal is reported as.
 */
import { GUEST_VALUE_LIMITS } from '../limits.js';

/** A value the guest described lies (partly) outside its memory. */
export class GuestPointerOutOfBounds extends Error {
  override readonly name = 'GuestPointerOutOfBounds';
}

/** A value the guest handed the host is larger than it may be; nothing was copied. */
export class GuestValueTooLarge extends Error {
  override readonly name = 'GuestValueTooLarge';
  constructor(
    readonly phase: 'arguments' | 'response',
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      phase === 'response'
        ? `the response holds a value of ${bytes} bytes, above the limit of ${limit} (refused before it was copied out of guest memory)`
        : `a host-call argument of ${bytes} bytes is above the limit of ${limit} (refused before it was copied out of guest memory)`,
    );
  }
}

export class LiftBounds {
  phase: 'arguments' | 'response' = 'arguments';
  argumentLimit: number = GUEST_VALUE_LIMITS.hostArgumentBytes;
  responseLimit = Number.POSITIVE_INFINITY;

  /** A new execution: its arguments come first, and the response may hold `responseLimit` bytes. */
  begin(responseLimit: number): void {
    this.phase = 'arguments';
    this.responseLimit = responseLimit;
  }

  private check(memory: WebAssembly.Memory, ptr: number, bytes: number): void {
    const limit = this.limit();
    if (bytes > limit) throw new GuestValueTooLarge(this.phase, bytes, limit);
    const size = memory.buffer.byteLength;
    if (ptr < 0 || bytes < 0 || ptr + bytes > size) throw new GuestPointerOutOfBounds(`out of bounds: ${bytes} bytes at ${ptr}, memory is ${size} bytes`);
  }

  /** A copy of `bytes` bytes at `ptr` (a `list<u8>`). */
  bytes(memory: WebAssembly.Memory, ptr: number, bytes: number): Uint8Array {
    this.check(memory, ptr, bytes);
    return new Uint8Array(memory.buffer.slice(ptr, ptr + bytes));
  }

  /** A view of `bytes` bytes at `ptr`, to be decoded at once (a string). */
  view(memory: WebAssembly.Memory, ptr: number, bytes: number): Uint8Array {
    this.check(memory, ptr, bytes);
    return new Uint8Array(memory.buffer, ptr, bytes);
  }

  /** A list of `count` elements of `size` bytes each, which the glue lifts one by one (each read is bounds-checked by its DataView). */
  list(count: number, size: number): void {
    const bytes = count * size;
    const limit = this.limit();
    if (bytes > limit) throw new GuestValueTooLarge(this.phase, bytes, limit);
  }

  private limit(): number {
    return this.phase === 'response' ? this.responseLimit : this.argumentLimit;
  }
}
