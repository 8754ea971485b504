/**
 * Baseline (a), naive: what a Node developer writes first. Default `transpileBytes` output (ES
 * module, preview2-shim for WASI), written to disk, and a fresh instance per request by importing
 * the generated module again with a cache-busting query string, on the main thread. The
 * `alga:extension` imports are mapped to a small host module that hands out the same in-memory
 * functions the other systems use.
 *
 * It is slow (~100 ms a request) and leaks the module graph of every import, so it runs a few
 * requests only; its requests/s comes from those.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transpileBytes } from '@bytecodealliance/jco-transpile';
import type { GuestResponse } from '../src/contract/index.js';
import { InMemoryBackend, jcoHostImports, type ContextData } from './in-memory-host.js';
import { checkSevenBody, httpRequest, kitchenSinkBytes } from './guests.js';
import { emptyResult, progress, type BenchConfig, type HandlerName, type SectionResult } from './results.js';
import { sequentialThroughput, summarize, timeSequential } from './stats.js';

const HOST_KEY = 'alga-bench.naive-host';

/** `alga:extension/user-v2` → `userV2`: the export name jco imports for a mapped interface. */
function exportName(iface: string): string {
  return iface.slice(iface.indexOf('/') + 1).replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

export async function runNaive(config: BenchConfig): Promise<SectionResult> {
  const result = emptyResult('naive');
  // Under the repository, so the generated `@bytecodealliance/preview2-shim` imports resolve.
  const dir = join(config.workDir, 'naive');
  mkdirSync(dir, { recursive: true });

  progress('transpile');
  const transpileStarted = performance.now();
  const { files } = await transpileBytes(kitchenSinkBytes(), { name: 'guest', map: { 'alga:extension/*': './alga-host.js#*' } });
  result.facts.push({ key: 'naive.transpile', label: 'naive: default jco transpile (ESM + preview2-shim) of kitchen-sink', value: performance.now() - transpileStarted, unit: 'ms' });
  for (const [name, bytes] of Object.entries(files)) if (!name.includes('/') && !name.endsWith('.d.ts')) writeFileSync(join(dir, name), bytes);

  const backend = new InMemoryBackend();
  let current: ContextData = { requestId: 'naive-0', tenantId: 'tenant-bench', extensionId: 'ext-bench', installId: 'install-bench', versionId: 'ver-1' };
  const imports = jcoHostImports(backend, () => current);
  (globalThis as Record<symbol, unknown>)[Symbol.for(HOST_KEY)] = imports;
  const hostModule = [
    `const host = globalThis[Symbol.for(${JSON.stringify(HOST_KEY)})];`,
    ...Object.keys(imports).map((iface) => `export const ${exportName(iface)} = host[${JSON.stringify(iface)}];`),
  ].join('\n');
  writeFileSync(join(dir, 'alga-host.js'), `${hostModule}\n`);

  const guestUrl = pathToFileURL(join(dir, 'guest.js')).href;
  let imported = 0;
  const n = config.quick ? { warm: 1, seq: 6 } : { warm: 2, seq: 20 };
  for (const handler of ['noop', 'seven'] as HandlerName[]) {
    progress(`fresh imports /${handler}`);
    const http = httpRequest(handler);
    const once = async () => {
      current = { ...current, requestId: `naive-${++imported}` };
      const guest = (await import(`${guestUrl}?request=${imported}`)) as { handler: (r: unknown) => GuestResponse };
      const response = guest.handler({ context: current, http });
      if (response.status !== 200) throw new Error(`naive /${handler}: status ${response.status}`);
      if (handler === 'seven') checkSevenBody('naive', new TextDecoder().decode(response.body));
    };
    await timeSequential(n.warm, once);
    const rssBefore = process.memoryUsage().rss;
    const latency = await timeSequential(n.seq, once);
    const grownMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    result.rows.push({ system: 'naive (jco default, fresh import)', handler, latency: summarize(latency), throughput: sequentialThroughput(latency), note: `${n.seq} requests only` });
    result.facts.push({ key: `naive.rss.${handler}`, label: `naive /${handler}: RSS growth per request (never freed; no forced GC)`, value: grownMiB / n.seq, unit: 'MiB' });
  }
  return result;
}
