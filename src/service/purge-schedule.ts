/**
 * Runs a purge (expired idempotency records) about every `intervalMs`: each wait is drawn from
 * half to one and a half intervals, so replicas started together drift apart instead of all
 * deleting at once. A failed purge is reported and tried again at the next turn; never thrown.
 */
export interface PurgeEvents {
  purged(count: number, ms: number): void;
  failed(error: unknown): void;
}

export interface PurgeSchedule {
  /** no further purge starts; resolves once a running one has finished */
  stop(): Promise<void>;
}

export function schedulePurge(purge: () => Promise<number>, intervalMs: number, events: PurgeEvents, random: () => number = Math.random): PurgeSchedule {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  const next = () => {
    if (stopped) return;
    timer = setTimeout(
      () => {
        timer = null;
        const started = performance.now();
        running = purge().then(
          (count) => events.purged(count, performance.now() - started),
          (e: unknown) => events.failed(e),
        );
        void running.finally(next);
      },
      Math.round(intervalMs * (0.5 + random())),
    );
    // the schedule alone never keeps the process running
    timer.unref();
  };
  if (intervalMs > 0) next();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
