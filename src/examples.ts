/**
 * Where the example guests live once `npm run examples` (scripts/build-examples.mjs) has built
 * them: tests, the benchmark and the demo load components from here. TypeScript guests are named
 * after their folder under examples/ (`kitchen-sink`), WAT guests after their file with a `wat-`
 * prefix (`wat-trap` for examples/wat/trap.wat).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the nearest folder above this module holding package.json (src/ or dist/src/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

export const examplesCacheDir = join(packageRoot(), '.cache', 'examples');

/** Absolute path of the built example component `name` (it may not exist before a build). */
export function examplePath(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`not an example name: ${JSON.stringify(name)}`);
  return join(examplesCacheDir, `${name}.wasm`);
}
