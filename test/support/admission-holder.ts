/**
 * A process that takes slots of the Redis limiter and holds them until it is killed — a replica
 * that crashes mid-execution. Run from dist: node dist/test/support/admission-holder.js URL PREFIX TENANT COUNT LEASE_MS.
 * Prints `held N` once it holds its slots (N admitted; the rest were refused or queued).
 */
import { RedisAdmission } from '../../src/service/redis-admission.js';

const [url, prefix, tenant, count, leaseMs] = process.argv.slice(2);
const limiter = new RedisAdmission({ url: url!, prefix: prefix!, limits: { perTenant: 2, tenantQueue: 2, globalQueue: 100 }, leaseMs: Number(leaseMs) });
if (!(await limiter.ready(5000))) throw new Error('Redis unreachable');
let held = 0;
for (let i = 0; i < Number(count); i++) {
  const a = await Promise.race([limiter.admit(tenant!), new Promise<null>((r) => setTimeout(() => r(null), 200))]);
  if (a?.kind === 'admitted') held++;
}
process.stdout.write(`held ${held}\n`);
setInterval(() => undefined, 60_000);
