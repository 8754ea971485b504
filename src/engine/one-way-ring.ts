/**
 * One-way messages from a worker (log records, stdio) written into shared memory instead of posted:
 * a post wakes the main thread (tens of µs of both threads' time on a VM), while these need no
 * answer — the main thread reads them the next time it hears from the worker (a host call, the
 * result), before that message, so the order of everything the worker said is kept. They survive
 * the worker: after a timeout or crash the main thread reads what the guest wrote before it hung.
 *
 * Layout: two Int32 — bytes written, bytes read — then records (u32 length + v8-serialized value).
 * The ring does not wrap: the worker starts over at an execution's start once everything was read,
 * and when a record does not fit, it and every later record of the execution are posted instead
 * (see `spilled`), which keeps the order.
 */
import { deserialize, serialize } from 'node:v8';

const WRITTEN = 0;
const READ = 1;
const HEADER_BYTES = 8;

/** Room for an execution's worth of log lines (records are capped per execution anyway). */
export const ONE_WAY_RING_BYTES = 256 * 1024;

export class OneWayRing {
  private readonly header: Int32Array;
  private readonly data: Uint8Array;
  private readonly view: DataView;
  /** worker side: a record of this execution was posted, so every later one is posted too */
  private spilled = false;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.header = new Int32Array(buffer, 0, 2);
    this.data = new Uint8Array(buffer, HEADER_BYTES);
    this.view = new DataView(buffer, HEADER_BYTES);
  }

  /** Worker: at an execution's start. The main thread has read everything by then (it read the last result). */
  startExecution(): void {
    if (Atomics.load(this.header, READ) === Atomics.load(this.header, WRITTEN)) {
      Atomics.store(this.header, READ, 0);
      Atomics.store(this.header, WRITTEN, 0);
    }
    this.spilled = false;
  }

  /** Worker: false when the caller must post the message itself (it did not fit). */
  append(message: unknown): boolean {
    if (this.spilled) return false;
    const bytes = serialize(message);
    const at = Atomics.load(this.header, WRITTEN);
    if (at + 4 + bytes.byteLength > this.data.byteLength) {
      this.spilled = true;
      return false;
    }
    this.view.setUint32(at, bytes.byteLength, true);
    this.data.set(bytes, at + 4);
    Atomics.store(this.header, WRITTEN, at + 4 + bytes.byteLength);
    return true;
  }

  /** Main thread: the records written since the last read, in order. */
  drain(): unknown[] {
    const end = Atomics.load(this.header, WRITTEN);
    let at = Atomics.load(this.header, READ);
    if (at >= end) return [];
    const out: unknown[] = [];
    while (at < end) {
      const length = this.view.getUint32(at, true);
      out.push(deserialize(this.data.slice(at + 4, at + 4 + length)));
      at += 4 + length;
    }
    Atomics.store(this.header, READ, at);
    return out;
  }
}
