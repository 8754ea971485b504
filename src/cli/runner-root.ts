/**
 * Where this runner's own files are — templates/, packages/sdk, wit/ — for the commands that work
 * on an author's project (`new`, `build`, `dev`); and the versions of the tools it builds with.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The runner's root: the nearest folder above this module holding templates/, packages/sdk and wit/. */
export function runnerRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'templates')) && existsSync(join(dir, 'packages', 'sdk', 'package.json'))) return dir;
  }
  throw new Error(`alga-runner's templates/ and packages/sdk are missing from this installation (looked above ${fileURLToPath(import.meta.url)})`);
}

/** The two WIT dialects of world `runner` the runner serves (docs/architecture.md). */
export const WORLDS = ['seed', 'alga'] as const;
export type World = (typeof WORLDS)[number];

export function worldWitPath(world: World): string {
  return join(runnerRoot(), 'wit', ...(world === 'seed' ? ['world.wit'] : ['alga', 'world.wit']));
}

/** A package's version as this runner resolves it (`exports` may hide package.json: look beside its entry). */
export function packageVersion(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${name}'s entry point`);
    dir = parent;
  }
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}
