/**
 * Which @alga-runner/sdk a project builds against: its own (node_modules/@alga-runner/sdk, which
 * `alga-runner new` links) or, when it has none — a project written for Alga's SDK — the one this
 * runner ships (packages/sdk). Its `exports` map the bundle's imports to JavaScript and the type
 * check's to declarations; Alga's `@alga-psa/extension-runtime` is its `./alga-runtime`.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { runnerRoot } from '../runner-root.js';

export const SDK_PACKAGE = '@alga-runner/sdk';
export const ALGA_RUNTIME_PACKAGE = '@alga-psa/extension-runtime';
export const ALGA_RUNTIME_SUBPATH = './alga-runtime';

type ExportTarget = { types?: string; default?: string };

export interface SdkLocation {
  /** the SDK package's directory (symlinks resolved) */
  dir: string;
  version: string;
  fromProject: boolean;
  exports: Readonly<Record<string, ExportTarget>>;
}

export function locateSdk(projectDir: string): SdkLocation {
  const own = join(projectDir, 'node_modules', '@alga-runner', 'sdk');
  const fromProject = existsSync(join(own, 'package.json'));
  const dir = realpathSync(fromProject ? own : join(runnerRoot(), 'packages', 'sdk'));
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string; exports: Record<string, ExportTarget> };
  return { dir, version: pkg.version, fromProject, exports: pkg.exports };
}

/** `@alga-runner/sdk/host/seed` → `./host/seed`; `@alga-psa/extension-runtime` → `./alga-runtime`; else null. */
export function sdkSubpath(specifier: string): string | null {
  if (specifier === ALGA_RUNTIME_PACKAGE) return ALGA_RUNTIME_SUBPATH;
  if (specifier === SDK_PACKAGE) return '.';
  if (specifier.startsWith(`${SDK_PACKAGE}/`)) return `.${specifier.slice(SDK_PACKAGE.length)}`;
  return null;
}

/** The file an SDK import resolves to (`default`: JavaScript, `types`: declarations), or null when the SDK has no such export. */
export function sdkFile(sdk: SdkLocation, subpath: string, condition: 'default' | 'types'): string | null {
  const target = sdk.exports[subpath]?.[condition];
  if (!target) return null;
  const file = join(sdk.dir, target);
  return existsSync(file) ? file : null;
}
