/**
 * `@alga-runner/sdk/testing`: run a built component in alga-runner's real engine, in-process,
 * with a throw-away store, seeded secrets and tenant data, and recorded outbound HTTP.
 *
 *   const runner = await startTestRunner({ component: 'dist/main.wasm', manifest: 'manifest.json' });
 *   const res = await runner.post('/notes', { text: 'hi' });
 *   assert.equal(res.status, 201);
 *   await runner.close();
 *
 * The engine is alga-runner's: the package `alga-runner` (its `alga-runner/harness` export), or,
 * when this SDK sits inside an alga-runner checkout or install (packages/sdk), that runner.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TestRunner, TestRunnerOptions } from './testing-types.js';

export type * from './testing-types.js';

interface HarnessModule {
  startHarness(options: TestRunnerOptions): Promise<TestRunner>;
}

/** The alga-runner package around this SDK's files, if there is one (a checkout or an install that ships packages/sdk). */
function enclosingRunner(): string | null {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    try {
      if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'alga-runner') return dir;
    } catch {
      // not a readable package.json: keep looking up
    }
  }
  return null;
}

let loading: Promise<HarnessModule> | undefined;

function loadHarness(): Promise<HarnessModule> {
  loading ??= (async () => {
    const root = enclosingRunner();
    if (root) {
      const built = join(root, 'dist', 'src', 'testing', 'harness.js');
      if (!existsSync(built)) throw new Error(`@alga-runner/sdk/testing: alga-runner at ${root} is not built (no ${built}); run \`npm run build\` there`);
      return (await import(pathToFileURL(built).href)) as HarnessModule;
    }
    const specifier = 'alga-runner/harness';
    try {
      return (await import(specifier)) as HarnessModule;
    } catch (e) {
      throw new Error(`@alga-runner/sdk/testing needs alga-runner installed beside it (npm install --save-dev alga-runner): ${e instanceof Error ? e.message : String(e)}`);
    }
  })();
  return loading;
}

/** Starts a runner for one built component; `close()` it when the test ends. */
export async function startTestRunner(options: TestRunnerOptions): Promise<TestRunner> {
  const harness = await loadHarness();
  return harness.startHarness(options);
}
