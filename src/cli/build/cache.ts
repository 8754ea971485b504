/**
 * The build's content-hash cache, under the project's .alga-runner/build/:
 *  - components/<key>.wasm — a component by the hash of everything that shapes its bytes (the
 *    bundle, which holds every source and the SDK that reach it; the WIT; the tools' versions; the
 *    flags). A build whose key is here copies it instead of componentizing: an unchanged build, or
 *    one back to an earlier state, is instant. The newest few are kept.
 *  - checked — the keys of sources (and tsconfig.json) that passed the type check with that
 *    bundle, so an unchanged build skips the type check too.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const COMPONENTS_KEPT = 4;
const CHECKED_KEPT = 16;

export function sha256(parts: readonly (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    // length-prefixed, so moving bytes from one part to the next changes the key
    hash.update(`${typeof part === 'string' ? Buffer.byteLength(part) : part.byteLength}:`);
    hash.update(part);
  }
  return hash.digest('hex');
}

/** Writes then renames: an interrupted write never leaves a file that looks complete. */
export function writeAtomically(path: string, bytes: Uint8Array | string): void {
  const partial = `${path}.partial-${process.pid}`;
  writeFileSync(partial, bytes);
  renameSync(partial, path);
}

export class BuildCache {
  private readonly components: string;
  private readonly checkedFile: string;

  constructor(projectDir: string) {
    const dir = join(projectDir, '.alga-runner', 'build');
    this.components = join(dir, 'components');
    this.checkedFile = join(dir, 'checked');
  }

  component(key: string): Uint8Array | null {
    const path = join(this.components, `${key}.wasm`);
    if (!existsSync(path)) return null;
    const now = new Date();
    utimesSync(path, now, now); // recently used: kept longest
    return readFileSync(path);
  }

  storeComponent(key: string, bytes: Uint8Array): void {
    mkdirSync(this.components, { recursive: true });
    writeAtomically(join(this.components, `${key}.wasm`), bytes);
    const byAge = readdirSync(this.components)
      .filter((f) => f.endsWith('.wasm'))
      .map((f) => ({ path: join(this.components, f), mtime: statSync(join(this.components, f)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
    for (const old of byAge.slice(COMPONENTS_KEPT)) rmSync(old.path, { force: true });
  }

  private checkedKeys(): string[] {
    return existsSync(this.checkedFile) ? readFileSync(this.checkedFile, 'utf8').split('\n').filter(Boolean) : [];
  }

  wasChecked(key: string): boolean {
    return this.checkedKeys().includes(key);
  }

  markChecked(key: string): void {
    mkdirSync(join(this.checkedFile, '..'), { recursive: true });
    const keys = [key, ...this.checkedKeys().filter((k) => k !== key)].slice(0, CHECKED_KEPT);
    writeAtomically(this.checkedFile, `${keys.join('\n')}\n`);
  }
}
