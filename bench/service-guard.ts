/**
 * Preloaded into the runner service the benchmark starts (`node --import …/service-guard.js
 * bin/alga-runner.js serve …`): when the benchmark process that holds the other end of stdin is
 * gone — finished, crashed or killed at its deadline — the service stops too, instead of living
 * on as an orphan holding a port and two worker threads on a shared machine.
 */
import { isMainThread } from 'node:worker_threads';

const HARD_EXIT_MS = 10_000;

function stopServer(): void {
  // SIGTERM runs the service's own graceful shutdown; the hard exit covers a shutdown that hangs
  setTimeout(() => process.exit(1), HARD_EXIT_MS).unref();
  process.kill(process.pid, 'SIGTERM');
}

// worker threads inherit --import; their stdin is an empty stream that ends at once
if (isMainThread) {
  process.stdin.on('end', stopServer);
  process.stdin.on('error', stopServer);
  process.stdin.resume();
}
