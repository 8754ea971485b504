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
import { tmpdir } from 'node:os';
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

/**
 * Copies 0..count-1, built where missing (`onBuilt` after each). Two build at once: componentize-js
 * spends much of a build in its own child process.
 */
export async function ensureVariants(count: number, onBuilt: (built: number, missing: number) => void): Promise<Variant[]> {
  mkdirSync(cacheDir, { recursive: true });
  const base = await kitchenSinkBundle();
  const witWorld = readFileSync(join(repoRoot, 'wit', 'world.wit'), 'utf8');
  const tools = `componentize-js@${packageVersion('@bytecodealliance/componentize-js')}|${DISABLE_FEATURES.join(',')}`;
  const variants = Array.from({ length: count }, (_, index) => {
    const source = variantSource(base, index);
    const key = createHash('sha256').update(tools).update('\0').update(witWorld).update('\0').update(source).digest('hex').slice(0, 32);
    return { index, source, path: join(cacheDir, `${index}-${key}.wasm`) };
  });
  const missing = variants.filter((v) => !existsSync(v.path));
  if (missing.length > 0) {
    const componentize = (await import('@bytecodealliance/componentize-js')).componentize as unknown as Componentize;
    const scratch = mkdtempSync(join(tmpdir(), 'alga-density-'));
    let built = 0;
    let next = 0;
    const lane = async () => {
      while (next < missing.length) {
        const variant = missing[next++]!;
        const sourcePath = join(scratch, `${variant.index}.js`);
        writeFileSync(sourcePath, variant.source);
        const { component } = await componentize({ sourcePath, witWorld, worldName: 'runner', disableFeatures: [...DISABLE_FEATURES] });
        // written whole, then renamed: an interrupted run leaves no half file under the final name
        writeFileSync(`${variant.path}.tmp`, component);
        renameSync(`${variant.path}.tmp`, variant.path);
        onBuilt(++built, missing.length);
      }
    };
    try {
      await Promise.all([lane(), lane()]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return variants.map(({ index, path }) => ({ index, path }));
}
