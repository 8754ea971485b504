/**
 * Running one execution (guest worker): take an instance (pristine, warm or new), call the guest,
 * check its response, post the result — then make the instance pristine again (serving requests
 * that arrive meanwhile) or drop it.
 */
import { threadId } from 'node:worker_threads';
import type { GuestResponse } from '../../contract/index.js';
import { type ExecuteMessage, type ExecuteReply, type ExecutionStats, SIGNAL } from '../protocol.js';
import type { GuestInstance } from './guest-instance.js';
import type { LiftBounds } from './lift-bounds.js';
import type { HostBridge, WorkerExecution } from './bridge.js';
import { freshInstancesFor, type InstancePool } from './instance-pool.js';
import { classifyFault, describe } from './faults.js';
import { hostCallMarginMs } from '../limits.js';

/** What a call of the guest ends with (a warm-up ends with `prepared` instead). */
type CallReply = Exclude<ExecuteReply, { kind: 'prepared' }>;

export interface RunDeps {
  bridge: HostBridge;
  instances: InstancePool;
  lift: LiftBounds;
  /** called between restore chunks: serves messages that arrived meanwhile (the message loop's) */
  serveArrivals: () => void;
}

/** The worker's `execute`: runs one execution message to its posted result. */
export function executionRunner({ bridge, instances, lift, serveArrivals }: RunDeps): (msg: ExecuteMessage) => void {
  return function execute(msg: ExecuteMessage): void {
    bridge.startExecution();
    const slot = instances.get(msg.artifactKey);
    const started = performance.now();
    // where the guest's deadline is counted from, as the pool counts it (restarted at `started`)
    let clockFrom = started;
    const stats: ExecutionStats = { instance: 'reused', guestMs: 0, memoryBytes: 0, hostCalls: 0, localCalls: {}, workerCalls: [], worker: threadId };
    if (!slot) {
      bridge.post({ type: 'result', id: msg.id, kind: 'fault', code: 'instantiate_failed', message: `artifact ${msg.artifactKey} is not loaded in this worker`, stats });
      return;
    }
    const fresh = msg.instanceMode === 'fresh';
    const owner = msg.context.installId ?? `tenant:${msg.context.tenantId}`;
    let instance: GuestInstance | undefined;
    if (fresh) {
      instance = slot.ready.pop();
      if (!instance) {
        instance = instances.adopt(msg.artifactKey, slot);
        if (instance) stats.instance = 'switched';
      }
    } else {
      instance = slot.warm.get(owner);
      slot.warm.delete(owner);
    }
    if (instance) {
      if (stats.instance !== 'switched') stats.instance = fresh ? 'restored' : 'reused';
    } else {
      // the guest's deadline starts here: instantiation runs its modules' start functions
      bridge.post({ type: 'started', id: msg.id });
      clockFrom = performance.now();
      try {
        instance = instances.newInstance(msg.artifactKey, slot);
        if (fresh) instance.takeSnapshot();
      } catch (e) {
        bridge.post({ type: 'result', id: msg.id, kind: 'fault', code: 'instantiate_failed', message: `instantiation failed: ${describe(e)}`, stats });
        return;
      }
      if (fresh) slot.alive++;
      stats.instance = 'new';
    }
    if (msg.prepareOnly) {
      // a warm-up: the instance has never been called, so it goes back as pristine as it came
      if (fresh) slot.ready.push(instance);
      else slot.warm.set(owner, instance);
      stats.guestMs = performance.now() - started;
      bridge.post({ type: 'result', id: msg.id, kind: 'prepared', stats });
      return;
    }

    let reply: CallReply;
    // A request served during a restore nests inside another's execute(), whose guest has returned.
    const execution: WorkerExecution = {
      id: msg.id,
      context: msg.context,
      answers: msg.local.answers,
      oneWay: new Set(msg.local.oneWay),
      inWorker: msg.runInWorker ? msg.local.inWorker : {},
      workerCalls: stats.workerCalls,
      log: (level, message) => bridge.postOneWay({ type: 'log', id: msg.id, level, message }),
      maxHostCalls: msg.maxHostCalls,
      maxLogMessageBytes: msg.maxLogMessageBytes,
      hostCalls: 0,
      localCalls: stats.localCalls,
      hostCallSpinMs: msg.hostCallSpinMs,
      deadline: clockFrom + msg.timeoutMs,
      hostCallMarginMs: hostCallMarginMs(msg.timeoutMs),
    };
    bridge.running = execution;
    lift.begin(msg.maxResponseBytes);
    try {
      const response = instance.call(msg.context, msg.request);
      stats.guestMs = performance.now() - started;
      stats.memoryBytes = instance.memoryBytes();
      reply = checkResponse(msg, ownResponse(response, instance), stats);
    } catch (e) {
      stats.guestMs = performance.now() - started;
      stats.memoryBytes = instance.memoryBytes();
      const { code, message } = classifyFault(e, instance, slot.guest.maxMemoryPages);
      reply = { type: 'result', id: msg.id, kind: 'fault', code, message, stats };
    } finally {
      bridge.running = null;
      stats.hostCalls = execution.hostCalls;
    }
    bridge.post(reply);

    // After the answer is out: make the instance pristine again (serving arrivals meanwhile), or drop it.
    const keep = reply.kind === 'ok' || reply.code === 'response_too_large';
    if (!fresh) {
      if (keep) slot.warm.set(owner, instance);
      return;
    }
    // a count, not a flag: a restore may serve a request whose own restore nests inside it
    Atomics.add(bridge.signal, SIGNAL.TIDYING, 1);
    try {
      if (keep && instance.restore(serveArrivals)) slot.ready.push(instance);
      else slot.alive--;
    } finally {
      Atomics.sub(bridge.signal, SIGNAL.TIDYING, 1);
    }
    if (slot.alive < freshInstancesFor(slot)) instances.scheduleSpare(msg.artifactKey);
  };
}

function checkResponse(msg: ExecuteMessage, response: GuestResponse, stats: ExecutionStats): CallReply {
  const bodyBytes = response.body?.byteLength ?? 0;
  const headerBytes = response.headers.reduce((n, h) => n + h.name.length + h.value.length, 0);
  if (bodyBytes + headerBytes > msg.maxResponseBytes) {
    return { type: 'result', id: msg.id, kind: 'fault', code: 'response_too_large', message: `the response is ${bodyBytes + headerBytes} bytes, above the limit of ${msg.maxResponseBytes}`, stats };
  }
  return { type: 'result', id: msg.id, kind: 'ok', response: { status: response.status, headers: response.headers, body: response.body }, stats };
}

/** The body is transferred to the main thread: it must not be a view into guest memory. */
function ownResponse(response: GuestResponse, instance: GuestInstance): GuestResponse {
  const body = response.body;
  if (!body || !instance.memories.some((m) => m.buffer === body.buffer)) return response;
  return { ...response, body: body.slice() };
}
