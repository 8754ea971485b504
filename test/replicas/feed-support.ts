/**
 * Helpers for the change-feed tests and benchmark: the kitchen-sink installed on a cluster,
 * storage-write loops on replicas, waiting for a condition, and a live log tail read as events.
 */
import { admin, createInstall, execute, guestJson, uploadExample, type Answer } from '../service/harness.js';
import type { Replica } from '../support/replicas.js';

export const KITCHEN_SINK_CAPS = ['cap:storage.kv', 'cap:log.emit', 'cap:context.read', 'cap:secrets.get', 'cap:http.fetch'];

/**
 * Uploads the kitchen-sink through every replica — so each has the component prepared in its own
 * data directory (the first registers the version, the others find it and prepare their copy) —
 * and installs it for `tenant` through the first.
 */
export async function installKitchenSink(replicas: readonly Replica[], tenant: string, install: Record<string, unknown> = {}): Promise<{ installId: string; extensionId: string }> {
  let extensionId = '';
  for (const r of replicas) {
    const registered = await uploadExample(r, 'kitchen-sink', { name: 'kitchen-sink', capabilities: KITCHEN_SINK_CAPS });
    extensionId = registered.extension_id;
  }
  const installId = await createInstall(replicas[0]!, { tenant_id: tenant, extension_id: extensionId, ...install });
  return { installId, extensionId };
}

/** Resolves when `check` returns a value other than undefined; rejects at the deadline, saying what it waited for. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, deadlineMs = 20_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${deadlineMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One storage write as a guest sees it: when it was sent and answered (performance.now), and the answer. */
export interface WriteAttempt {
  readonly replica: number;
  readonly sentAt: number;
  readonly answeredAt: number;
  /** 'ok' (acknowledged), the guest's storage error ('denied', ...), or the transport error code */
  readonly outcome: string;
  readonly revision: number | null;
}

/** `/kv/put` of the kitchen-sink through one replica; the outcome as above. */
export async function putOnce(replica: Replica, tenant: string, key: string, value: string): Promise<WriteAttempt> {
  const sentAt = performance.now();
  const r = await execute(replica, '/kv/put', { tenant, body: { ns: 'feed', key, value } });
  const answeredAt = performance.now();
  if (r.status !== 200) return { replica: replica.index, sentAt, answeredAt, outcome: String((r.json as unknown as { error?: { code?: string } }).error?.code ?? r.status), revision: null };
  const answer = r.json as Answer;
  if (answer.status !== 200) return { replica: replica.index, sentAt, answeredAt, outcome: `guest-${answer.status}`, revision: null };
  const body = guestJson<{ ok?: { revision: number }; err?: string }>(answer);
  return { replica: replica.index, sentAt, answeredAt, outcome: body.ok ? 'ok' : (body.err ?? 'unknown'), revision: body.ok ? Number(body.ok.revision) : null };
}

/** Writes through `replica` one after another until `stop()` says so; every attempt is recorded. */
export function writeLoop(replica: Replica, tenant: string, keyOf: (n: number) => string): { attempts: WriteAttempt[]; stop(): Promise<void> } {
  const attempts: WriteAttempt[] = [];
  let stopping = false;
  const running = (async () => {
    for (let n = 0; !stopping; n++) attempts.push(await putOnce(replica, tenant, keyOf(n), `v${n}`));
  })();
  return {
    attempts,
    async stop() {
      stopping = true;
      await running;
    },
  };
}

export async function patchInstall(replica: Replica, installId: string, body: Record<string, unknown>): Promise<void> {
  const r = await admin(replica, 'PATCH', `/admin/v1/installs/${installId}`, body);
  if (r.status !== 200) throw new Error(`PATCH failed: ${r.status} ${JSON.stringify(r.json)}`);
}

/** A live log tail (`follow=1`) read as it arrives: the records' messages, with when each arrived. */
export interface LogTail {
  readonly records: { message: string; receivedAt: number }[];
  /** the first record whose message matches (past or future) */
  waitFor(pattern: RegExp, deadlineMs?: number): Promise<{ message: string; receivedAt: number }>;
  close(): void;
}

export async function tailLogs(replica: Replica, installId: string): Promise<LogTail> {
  const controller = new AbortController();
  const res = await fetch(`${replica.url}/admin/v1/installs/${installId}/logs?follow=1&after=0`, { headers: { authorization: `Bearer ${replica.adminToken}` }, signal: controller.signal });
  if (res.status !== 200 || !res.body) throw new Error(`log tail failed: ${res.status}`);
  const records: { message: string; receivedAt: number }[] = [];
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let connected = () => {};
  const isConnected = new Promise<void>((resolve) => (connected = resolve));
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const receivedAt = performance.now();
        buffered += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (event.startsWith(': connected')) connected();
          const data = event.split('\n').find((l) => l.startsWith('data: '));
          if (data) records.push({ message: (JSON.parse(data.slice(6)) as { message: string }).message, receivedAt });
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  await isConnected;
  return {
    records,
    waitFor: (pattern, deadlineMs = 20_000) => until(`a log record matching ${pattern}`, async () => records.find((r) => pattern.test(r.message)), deadlineMs),
    close: () => controller.abort(),
  };
}
