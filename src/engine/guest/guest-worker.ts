/**
 * Worker entry: the message loop of a guest worker, which hosts guest instances and runs one
 * execution at a time. It wires the parts: the host-call bridge (bridge.ts: guest imports of
 * `alga:extension/*` answered locally or forwarded to the main thread), the capabilities' worker
 * sides (worker-sides.ts), the instances per guest (instance-pool.ts) and the running of one
 * execution (run-execution.ts). WASI is served locally (see wasi.ts).
 */
import { parentPort, workerData, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { WorkerSideSpec, WorkerStoreSpec } from '../../contract/index.js';
import type { ToWorker } from '../protocol.js';
import { LiftBounds } from './lift-bounds.js';
import { HostBridge, type BridgeChannel } from './bridge.js';
import { InstancePool } from './instance-pool.js';
import { executionRunner } from './run-execution.js';
import { openWorkerSides } from './worker-sides.js';

interface WorkerInit extends BridgeChannel {
  /** capabilities' worker sides to open before serving (contract/worker-side.ts) */
  workerSides: WorkerSideSpec[];
  /** the store the worker sides read, opened once by this worker (worker-sides.ts) */
  workerStore: WorkerStoreSpec | null;
  /** bytes of linear memory this worker's idle instances may hold (instance-pool.ts); null: no bound */
  instanceMemoryBytes: number | null;
}

const init = workerData as WorkerInit;
const port = parentPort!;
const bridge = new HostBridge(init);
/** What this worker's guests may hand the host, per execution (the glue of every guest reads it). */
const lift = new LiftBounds();
const instances = new InstancePool(bridge, lift, () => inChain > 0, init.instanceMemoryBytes ?? Number.POSITIVE_INFINITY);
const execute = executionRunner({ bridge, instances, lift, serveArrivals });

/**
 * Called between restore chunks: takes messages that arrived meanwhile straight off the port and
 * runs an execute at once when its guest has a ready instance. Anything else — or anything after a
 * message that had to wait — is kept, in order, for when the restore is done.
 */
function serveArrivals(): void {
  if (deferred.length > 0 || inChain > 1) return;
  for (;;) {
    const received = receiveMessageOnPort(port as unknown as MessagePort);
    if (!received) return;
    const msg = received.message as ToWorker;
    if (msg.type === 'execute' && msg.instanceMode === 'fresh' && instances.hasReady(msg.artifactKey)) execute(msg);
    else {
      deferred.push(msg);
      return;
    }
  }
}

// Messages are handled strictly in order: a load must finish before the execute that follows it.
// `inChain` counts messages taken by the listener and not yet handled; `deferred` holds messages
// taken off the port during a restore that must wait their turn.
// the worker sides open first: nothing is served before they are
let sideErrors: string[] = [];
let queue: Promise<void> = openWorkerSides(init.workerSides, init.workerStore).then((sides) => {
  bridge.useWorkerSides(sides);
  sideErrors = sides.errors;
});
let inChain = 0;
const deferred: ToWorker[] = [];

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'load':
      instances.load(msg);
      break;
    case 'execute':
      execute(msg);
      break;
    case 'unload':
      instances.unload(msg.artifactKey);
      break;
    case 'forget':
      instances.forgetOwner(msg.owner);
      break;
  }
  while (deferred.length > 0) await handle(deferred.shift()!);
}

port.on('message', (msg: ToWorker) => {
  inChain++;
  queue = queue.then(() => handle(msg)).finally(() => inChain--);
});
void queue.then(() => bridge.post({ type: 'ready', sideErrors }));
