/**
 * Keeps an idempotency claim alive while its execution runs: renews the lease every third of it,
 * so a renewal may fail (the database away for a moment) twice before the lease runs out. A
 * renewal that finds the claim gone (taken over by another process after this one stalled past
 * its lease, or purged) is reported once and renewal stops; the execution itself goes on — it
 * cannot be taken back — and its answer will not be stored (IdempotencyStore.complete refuses).
 */
import type { IdempotencyScope, IdempotencyStore } from '../store/index.js';

export interface LeaseRenewalEvents {
  /** the claim is no longer this process's */
  lost(): void;
  /** a renewal failed (the store unreachable); the next one is tried on schedule */
  failed(error: unknown): void;
}

export interface LeaseRenewal {
  /** stop renewing; resolves once no renewal is running, so a completion that follows is not raced */
  stop(): Promise<void>;
}

export function renewWhileRunning(store: IdempotencyStore, scope: IdempotencyScope, leaseMs: number, events: LeaseRenewalEvents): LeaseRenewal {
  const everyMs = Math.max(1, Math.floor(leaseMs / 3));
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  const schedule = () => {
    timer = setTimeout(() => {
      timer = null;
      running = store.renew(scope, leaseMs).then(
        (held) => {
          if (stopped) return;
          if (!held) {
            stopped = true;
            events.lost();
            return;
          }
          schedule();
        },
        (e: unknown) => {
          if (stopped) return;
          events.failed(e);
          schedule();
        },
      );
    }, everyMs);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
