/**
 * Distinct extensions for the density benchmark: the kitchen-sink guest with JavaScript of its own
 * added to each copy (functions with their own constants and strings, and a `/variant` route that
 * runs them and names the copy), componentized with componentize-js like any guest. Each copy's
 * pre-initialised heap — its data — therefore differs from every other's, as two real extensions'
 * do, while the engine code they carry is the same.
 *
 * Built copies are kept in `.cache/density-variants/`, keyed by what goes into them, so the first
 * run on a machine builds them (about 1.5 s each) and later runs reuse them.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { repoRoot } from './guests.js';

const cacheDir = join(repoRoot, '.cache', 'density-variants');

/** Functions added to each copy; each carries its own constants and a string of ~100 characters. */
const FUNCTIONS_PER_VARIANT = 40;
/** componentize-js flags of the project's guests (scripts/build-examples.mjs). */
const DISABLE_FEATURES = ['http', 'fetch-event'] as const;

export interface Variant {
  index: number;
  path: string;
}

function packageVersion(name: string): string {
  // packages' `exports` hide package.json: read it where the project's node_modules holds it
  return (JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** componentize-js takes the WIT inline (`witWorld`); its types list only `witPath`. */
type Componentize = (options: { sourcePath: string; witWorld: string; worldName: string; disableFeatures: string[] }) => Promise<{ component: Uint8Array }>;

/** A small deterministic generator, so a copy's source (and cache key) is the same on every run. */
function words(seed: number, count: number): string[] {
  let state = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => Math.floor(next() * 36 ** 6).toString(36));
}

/** The kitchen-sink's bundle with copy `index`'s own functions and its `/variant` route. */
export function variantSource(base: string, index: number): string {
  const marker = 'var routes = {';
  if (!base.includes(marker)) throw new Error('the kitchen-sink bundle no longer declares `var routes = {`: update bench/density-variants.ts');
  const functions = Array.from({ length: FUNCTIONS_PER_VARIANT }, (_, k) => {
    const text = `variant ${index} part ${k}: ${words(index * 1000 + k, 14).join(' ')}`;
    return `function variant${k}(x) { const s = ${JSON.stringify(text)}; return (x * ${index * 31 + k} + s.length + s.charCodeAt(${k % 10})) % ${997 + k}; }`;
  });
  const digest = `function variantDigest() { let d = ${index}; ${functions.map((_, k) => `d = variant${k}(d);`).join(' ')} return d; }`;
  const route = `\n  "/variant": () => json(200, { variant: ${index}, digest: variantDigest() }),`;
  return base.replace(marker, `${functions.join('\n')}\n${digest}\n${marker}${route}`);
}

/** What `/variant` of copy `index` answers (the bench checks each copy's first answer against it). */
export function expectedDigest(index: number): number {
  // the same arithmetic as the generated functions, evaluated here
  let d = index;
  for (let k = 0; k < FUNCTIONS_PER_VARIANT; k++) {
    const text = `variant ${index} part ${k}: ${words(index * 1000 + k, 14).join(' ')}`;
    d = (d * (index * 31 + k) + text.length + text.charCodeAt(k % 10)) % (997 + k);
  }
  return d;
}

async function kitchenSinkBundle(): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(repoRoot, 'examples', 'kitchen-sink', 'src', 'index.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['alga:extension/*', 'wasi:*'],
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

const BUILD_PROCESSES = Math.max(1, Math.min(4, availableParallelism()));
const BUILD_FLAG = '--density-variant-build';

interface BuildJob {
  sourcePath: string;
  outPath: string;
}

/**
 * A child process running this module (see the end of the file) builds `jobs` one after another,
 * printing a line per copy built.
 */
function buildInChild(witPath: string, jobs: BuildJob[], onBuilt: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), BUILD_FLAG, witPath], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    createInterface({ input: child.stdout }).on('line', (line) => line === 'built' && onBuilt());
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`building density variants failed (exit ${code}): ${stderr}`))));
    child.stdin.end(JSON.stringify(jobs));
  });
}

/**
 * componentize-js splices the world's bindings into its engine for every build, which is most of a
 * build's time; the splice depends only on the engine, the features and the world, which every copy
 * shares, so a builder process splices once and reuses the result (the same bytes componentize-js
 * would make again).
 */
async function spliceOnce(): Promise<void> {
  const splicerUrl = new URL('../lib/spidermonkey-embedding-splicer.js', import.meta.resolve('@bytecodealliance/componentize-js'));
  const { splicer } = (await import(splicerUrl.href)) as { splicer: Record<string, (...args: unknown[]) => unknown> };
  const splice = splicer.spliceBindings!.bind(splicer);
  const made = new Map<string, unknown>();
  splicer.spliceBindings = (engine: unknown, ...rest: unknown[]) => {
    const key = JSON.stringify(rest);
    if (!made.has(key)) made.set(key, splice(engine, ...rest));
    return made.get(key);
  };
}

async function buildAll(witPath: string, jobs: BuildJob[]): Promise<void> {
  await spliceOnce();
  const componentize = (await import('@bytecodealliance/componentize-js')).componentize as unknown as Componentize;
  const witWorld = readFileSync(witPath, 'utf8');
  for (const job of jobs) {
    const { component } = await componentize({ sourcePath: job.sourcePath, witWorld, worldName: 'runner', disableFeatures: [...DISABLE_FEATURES] });
    // written whole, then renamed: an interrupted run leaves no half file under the final name
    writeFileSync(`${job.outPath}.tmp`, component);
    renameSync(`${job.outPath}.tmp`, job.outPath);
    process.stdout.write('built\n');
  }
}

/** Copies 0..count-1, built where missing (`onBuilt` after each), one per core at a time. */
export async function ensureVariants(count: number, onBuilt: (built: number, missing: number) => void): Promise<Variant[]> {
  mkdirSync(cacheDir, { recursive: true });
  const base = await kitchenSinkBundle();
  const witPath = join(repoRoot, 'wit', 'world.wit');
  const witWorld = readFileSync(witPath, 'utf8');
  const tools = `componentize-js@${packageVersion('@bytecodealliance/componentize-js')}|${DISABLE_FEATURES.join(',')}`;
  const variants = Array.from({ length: count }, (_, index) => {
    const source = variantSource(base, index);
    const key = createHash('sha256').update(tools).update('\0').update(witWorld).update('\0').update(source).digest('hex').slice(0, 32);
    return { index, source, path: join(cacheDir, `${index}-${key}.wasm`) };
  });
  const missing = variants.filter((v) => !existsSync(v.path));
  if (missing.length > 0) {
    const scratch = mkdtempSync(join(tmpdir(), 'alga-density-'));
    let built = 0;
    // componentize-js runs its pre-initialiser with spawnSync: builds overlap only in processes of their own
    const lanes = Array.from({ length: Math.min(BUILD_PROCESSES, missing.length) }, (_, lane) =>
      missing
        .filter((_, i) => i % BUILD_PROCESSES === lane)
        .map((variant) => {
          const sourcePath = join(scratch, `${variant.index}.js`);
          writeFileSync(sourcePath, variant.source);
          return { sourcePath, outPath: variant.path };
        }),
    );
    try {
      await Promise.all(lanes.map((jobs) => buildInChild(witPath, jobs, () => onBuilt(++built, missing.length))));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return variants.map(({ index, path }) => ({ index, path }));
}

if (process.argv[2] === BUILD_FLAG) {
  const jobs = JSON.parse(readFileSync(0, 'utf8')) as BuildJob[];
  await buildAll(process.argv[3]!, jobs);
}
