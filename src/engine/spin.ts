/**
 * Deadlines for busy-wait loops (the main thread's hot wait, a worker watching for a host call's
 * answer). `performance.now()` returns a heap number: read on every turn of a loop that spins for
 * a few hundred microseconds it allocated ~16 bytes a turn, tens of KiB per request, and the
 * scavenges that followed showed up as millisecond stalls in the latency tail. A spin deadline
 * reads the clock once every CLOCK_EVERY turns instead. The loops here turn in ~10 ns (an
 * `Atomics.load`), so the deadline is overshot by ~5 µs at most; reading every 32 turns still
 * allocated ~8 KiB per request on the main thread.
 */
const CLOCK_EVERY = 512;

export class SpinDeadline {
  private turns = 0;

  constructor(readonly until: number) {}

  static after(ms: number): SpinDeadline {
    return new SpinDeadline(performance.now() + ms);
  }

  /** Whether the deadline has passed; looks at the clock on every CLOCK_EVERY-th call only. */
  passed(): boolean {
    if (++this.turns % CLOCK_EVERY !== 0) return false;
    return performance.now() >= this.until;
  }
}
