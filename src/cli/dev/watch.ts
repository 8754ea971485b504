/**
 * Watches an extension project for `alga-runner dev`: what changed, sorted into what it needs —
 * a build (sources, manifest, ui/, tsconfig.json, package.json) or new secrets — told once per
 * burst of changes (editors write a file in several steps).
 */
import { watch, type FSWatcher } from 'node:fs';
import { SECRET_FILES } from './local-secrets.js';

export type ChangeKind = 'build' | 'secrets';

/** Written by the build, `pack` or dev itself, or not the project's: never a reason to rebuild. */
const IGNORED = /^(node_modules|dist|\.alga-runner|\.git|test)([\\/]|$)|^bundle\.tar\.zst|\.partial-\d+$|~$|\.swp$/;

const SETTLE_MS = 100;

export function changeKindOf(path: string): ChangeKind | null {
  if ((SECRET_FILES as readonly string[]).includes(path)) return 'secrets';
  if (IGNORED.test(path) || path.startsWith('.')) return null;
  return 'build';
}

export function watchProject(dir: string, onChange: (kinds: Set<ChangeKind>, paths: string[]) => void): FSWatcher {
  let kinds = new Set<ChangeKind>();
  let paths: string[] = [];
  let timer: NodeJS.Timeout | null = null;
  return watch(dir, { recursive: true }, (_event, filename) => {
    if (!filename) return;
    const kind = changeKindOf(filename.toString());
    if (kind === null) return;
    kinds.add(kind);
    if (!paths.includes(filename.toString())) paths.push(filename.toString());
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      const told = { kinds, paths };
      kinds = new Set();
      paths = [];
      timer = null;
      onChange(told.kinds, told.paths);
    }, SETTLE_MS);
  });
}
