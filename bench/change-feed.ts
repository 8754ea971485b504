/**
 * The change-feed section of `npm run bench` (`--only feed`): three `alga-runner serve` replicas on
 * one PostgreSQL schema (TEST_DATABASE_URL, test/support/replicas.ts), measured twice in one run:
 *
 * - `notify`: the defaults — LISTEN/NOTIFY, the 1 s re-check as backstop, the 2 s log-tail poll;
 * - `baseline`: LISTEN off (RUNNER_CHANGE_LISTEN=0) with a 2 s re-check — what the old 2 s install
 *   cache TTL and the 2 s log-tail poll gave.
 *
 * Revocation bound: the storage grant of an install is toggled through replica 0; replicas 1 and 2
 * are probed with `/kv/put` back to back from the moment the PATCH answers. A replica's lag is when
 * its first probe with the new answer was sent, after the admin answer; a change's bound is the
 * larger of the two (the last replica in force) — an upper bound, coarse by one probe's duration on
 * a loaded machine. The replicas also log (at debug, with their clock) when they drop the cached
 * install: that time minus the admin answer's is the other figure. Log-tail lag: a tail (follow=1) on replica 0; an
 * execution of `/log` on replica 1 or 2 stores a record before it answers; lag = the record's
 * arrival on the tail minus that answer. A random pause comes before each change and record (up to
 * 20 ms; 2 s in the baseline, its period), so they do not fall at one point of a periodic poll.
 */
import { progress, type BenchConfig, type Fact, type SectionResult } from './results.js';
import { startCluster, type Replica } from '../test/support/replicas.js';
import { execute } from '../test/service/harness.js';
import { installKitchenSink, patchInstall, putOnce, tailLogs } from '../test/replicas/feed-support.js';

interface ModeFigures {
  mode: 'notify' | 'baseline';
  env: Record<string, string>;
  /** per change: ms from the admin answer to the last replica in force (its first probe sent with the new answer: an upper bound) */
  revocation: number[];
  /** per change: ms from the admin answer to the last probe (of either replica) sent that still got the old answer (a lower bound) */
  lastOld: number[];
  /** per change: ms from the admin answer to the last replica's log line saying it dropped the cached install (negative: before the answer arrived) */
  heard: number[];
  /** per record: ms from the execution's answer to the record on the other replica's tail */
  logTail: number[];
}

export interface ChangeFeedResult extends SectionResult {
  feed: ModeFigures[];
}

export function isChangeFeedResult(r: SectionResult): r is ChangeFeedResult {
  return 'feed' in r;
}

const GRANTS_ON = ['cap:storage.kv', 'cap:log.emit', 'cap:context.read'];
const GRANTS_OFF = ['cap:log.emit', 'cap:context.read'];

/**
 * Probing back to back from `since`: ms after it when the first write answered as `want` was sent
 * (`firstNew`), and when the last one still answered the old way was sent (`lastOld`, 0 if none).
 */
async function lagUntil(replica: Replica, tenant: string, want: 'ok' | 'denied', since: number): Promise<{ firstNew: number; lastOld: number }> {
  let lastOld = 0;
  for (let n = 0; ; n++) {
    const attempt = await putOnce(replica, tenant, `probe-${replica.index}`, String(n));
    if (attempt.outcome === want) return { firstNew: Math.max(0, attempt.sentAt - since), lastOld };
    lastOld = Math.max(0, attempt.sentAt - since);
    if (performance.now() - since > 30_000) throw new Error(`replica ${replica.index} did not answer ${want} within 30 s`);
  }
}

/** Epoch ms of the replica's first log line after `from` saying it dropped what it cached about the install (or everything). */
function droppedAt(replica: Replica, from: number, installId: string): number {
  for (const line of replica.process.lines.slice(from)) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { time?: number; msg?: string; install?: string };
    const dropped = (entry.install === installId && entry.msg?.startsWith('install change heard')) || entry.msg?.startsWith('change feed: everything cached');
    if (dropped && typeof entry.time === 'number') return entry.time;
  }
  return NaN;
}

/**
 * Before each change and record a random pause up to `jitterMs`: a change made right after the
 * previous one came into force would fall at the same point of a periodic re-check each time.
 */
const pause = (jitterMs: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * jitterMs));

async function measureMode(mode: ModeFigures['mode'], env: Record<string, string>, changes: number, records: number, jitterMs: number): Promise<ModeFigures> {
  progress(`feed (${mode}): starting three replicas`);
  // debug: the replicas log when they drop a cached install, with the time (droppedAt)
  const cluster = await startCluster({ replicas: 3, env, logLevel: 'debug' });
  try {
    const r = cluster.replicas;
    const tenant = `bench-${mode}`;
    progress(`feed (${mode}): uploading through each replica`);
    const { installId } = await installKitchenSink(r, tenant, { grants: GRANTS_ON });
    for (const replica of [r[1]!, r[2]!]) await lagUntil(replica, tenant, 'ok', performance.now());
    const lastOld: number[] = [];

    const revocation: number[] = [];
    const heard: number[] = [];
    for (let i = 0; i < changes; i++) {
      progress(`feed (${mode}): change ${i + 1}/${changes}`);
      const revoke = i % 2 === 0;
      await pause(jitterMs);
      const seen = [r[1]!, r[2]!].map((replica) => replica.process.lines.length);
      await patchInstall(r[0]!, installId, { grants: revoke ? GRANTS_OFF : GRANTS_ON });
      const answered = performance.now();
      const answeredEpoch = Date.now();
      const lags = await Promise.all([r[1]!, r[2]!].map((replica) => lagUntil(replica, tenant, revoke ? 'denied' : 'ok', answered)));
      revocation.push(Math.max(...lags.map((l) => l.firstNew)));
      lastOld.push(Math.max(...lags.map((l) => l.lastOld)));
      heard.push(Math.max(...[r[1]!, r[2]!].map((replica, k) => droppedAt(replica, seen[k]!, installId) - answeredEpoch)));
    }

    const tail = await tailLogs(r[0]!, installId);
    const logTail: number[] = [];
    try {
      for (let i = 0; i < records; i++) {
        progress(`feed (${mode}): log record ${i + 1}/${records}`);
        const message = `bench record ${mode} ${i}`;
        await pause(jitterMs);
        const res = await execute(r[1 + (i % 2)]!, '/log', { tenant, query: { msg: message } });
        if (res.status !== 200) throw new Error(`/log answered ${res.status}`);
        const answered = performance.now();
        const arrived = await tail.waitFor(new RegExp(`^${message}$`), 30_000);
        logTail.push(arrived.receivedAt - answered);
      }
    } finally {
      tail.close();
    }
    return { mode, env, revocation, lastOld, heard, logTail };
  } finally {
    await cluster.close();
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};

export async function runChangeFeed(config: BenchConfig): Promise<ChangeFeedResult> {
  const plan = config.quick ? { changes: 20, records: 20, baselineChanges: 6, baselineRecords: 6 } : { changes: 200, records: 200, baselineChanges: 20, baselineRecords: 20 };
  const feed = [
    await measureMode('notify', {}, plan.changes, plan.records, 20),
    await measureMode('baseline', { RUNNER_CHANGE_LISTEN: '0', RUNNER_CHANGE_RECHECK_MS: '2000', RUNNER_LOG_TAIL_POLL_MS: '2000' }, plan.baselineChanges, plan.baselineRecords, 2_000),
  ];
  const facts: Fact[] = feed.flatMap((m) => [
    { key: `feed.${m.mode}.revocation.p50`, label: `revocation bound p50 (${m.mode})`, value: pct(m.revocation, 50), unit: 'ms' as const },
    { key: `feed.${m.mode}.revocation.p99`, label: `revocation bound p99 (${m.mode})`, value: pct(m.revocation, 99), unit: 'ms' as const },
    { key: `feed.${m.mode}.revocation.max`, label: `revocation bound max (${m.mode})`, value: Math.max(...m.revocation), unit: 'ms' as const },
    { key: `feed.${m.mode}.lastold.max`, label: `last old answer sent, max (${m.mode})`, value: Math.max(...m.lastOld), unit: 'ms' as const },
    { key: `feed.${m.mode}.heard.p99`, label: `change heard by the last replica p99 (${m.mode})`, value: pct(m.heard, 99), unit: 'ms' as const },
    { key: `feed.${m.mode}.heard.max`, label: `change heard by the last replica max (${m.mode})`, value: Math.max(...m.heard), unit: 'ms' as const },
    { key: `feed.${m.mode}.logtail.p50`, label: `log-tail lag p50 (${m.mode})`, value: pct(m.logTail, 50), unit: 'ms' as const },
    { key: `feed.${m.mode}.logtail.p99`, label: `log-tail lag p99 (${m.mode})`, value: pct(m.logTail, 99), unit: 'ms' as const },
    { key: `feed.${m.mode}.logtail.max`, label: `log-tail lag max (${m.mode})`, value: Math.max(...m.logTail), unit: 'ms' as const },
  ]);
  return { section: 'change-feed', rows: [], facts, notes: [], feed };
}

export function changeFeedReport(result: ChangeFeedResult): string[] {
  const line = (label: string, xs: number[]) =>
    `${label.padEnd(44)} n=${String(xs.length).padStart(4)}  p50 ${pct(xs, 50).toFixed(1).padStart(7)}  p99 ${pct(xs, 99).toFixed(1).padStart(7)}  max ${Math.max(...xs)
      .toFixed(1)
      .padStart(7)} ms`;
  const lines = ['Change feed: 3 replicas on one PostgreSQL schema (admin change through replica 0, probes on 1 and 2)'];
  for (const m of result.feed) {
    const settings = Object.entries(m.env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    lines.push(`${m.mode}${settings ? ` (${settings})` : ' (defaults: LISTEN/NOTIFY, re-check 1000 ms)'}`);
    lines.push(`  ${line('admin answer → last replica drops its cache', m.heard)}`);
    lines.push(`  ${line('admin answer → last old answer sent (probe)', m.lastOld)}`);
    lines.push(`  ${line('admin answer → first new answer sent (probe)', m.revocation)}`);
    lines.push(`  ${line('append on replica 1/2 → event on replica 0 tail', m.logTail)}`);
  }
  const [notify, baseline] = result.feed;
  if (notify && baseline) {
    lines.push(
      `ratio notify/baseline (p50): revocation ${(pct(notify.revocation, 50) / pct(baseline.revocation, 50)).toFixed(3)}×, log tail ${(pct(notify.logTail, 50) / pct(baseline.logTail, 50)).toFixed(3)}×`,
    );
  }
  return lines;
}
