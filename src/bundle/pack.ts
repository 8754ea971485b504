/**
 * Build `bundle.tar.zst` from an author's directory: `manifest.json`, `dist/main.wasm` (none for
 * a UI-only extension: a UI and no API, component-rule.ts) and everything under `ui/`. Packing is deterministic (sorted entries, zero mtimes and owners,
 * fixed modes), so the same sources always give the same content hash — which is what makes
 * "same version, different bytes" a meaningful conflict at upload.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { MAIN_WASM_PATH, MANIFEST_PATH, UI_PREFIX } from './archive-reader.js';
import { contentHashOf, type ContentHash } from './content-hash.js';
import { componentRequiredBecause } from './component-rule.js';
import { checkEntryPath } from './entry-path.js';
import { bundleError, type BundleResult, type ManifestProblem } from './errors.js';
import { parseManifestJson, type Manifest } from './manifest.js';
import { compressBundle } from './zstd.js';

export interface BundleParts {
  /** manifest.json exactly as the author wrote it */
  readonly manifestJson: string | Uint8Array;
  /** absent for a UI-only bundle (component-rule.ts) */
  readonly mainWasm?: Uint8Array;
  /** bundle path (`ui/index.html`) → bytes */
  readonly uiFiles?: ReadonlyMap<string, Uint8Array>;
}

export interface PackedBundle {
  readonly bytes: Buffer;
  readonly contentHash: ContentHash;
  readonly manifest: Manifest;
  /** the manifest's unknown keys (kept in the bundle as written; readers ignore them) */
  readonly manifestWarnings: readonly ManifestProblem[];
  /** packed without a component (component-rule.ts) */
  readonly uiOnly: boolean;
}

/** Validate the parts as the reader would, then write the archive. */
export async function packBundle(parts: BundleParts, options: { compressionLevel?: number } = {}): Promise<BundleResult<PackedBundle>> {
  const parsed = parseManifestJson(parts.manifestJson);
  if (parsed.kind === 'err') return { kind: 'err', error: bundleError('BUNDLE_INVALID_MANIFEST', `${parsed.problems.length} problem(s)`, parsed.problems) };
  const wasm = parts.mainWasm;
  if (wasm === undefined) {
    const required = componentRequiredBecause(parsed.manifest);
    if (required) return { kind: 'err', error: bundleError('BUNDLE_MISSING_FILE', `${MAIN_WASM_PATH}: ${required}`) };
  } else if (!(wasm[0] === 0x00 && wasm[1] === 0x61 && wasm[2] === 0x73 && wasm[3] === 0x6d)) {
    return { kind: 'err', error: bundleError('BUNDLE_INVALID_WASM', 'it does not start with the \\0asm magic') };
  }
  const uiFiles = parts.uiFiles ?? new Map<string, Uint8Array>();
  for (const path of uiFiles.keys()) {
    const checked = checkEntryPath(path);
    if (checked.kind === 'err' || checked.path !== path || !path.startsWith(UI_PREFIX)) {
      return { kind: 'err', error: bundleError('BUNDLE_UNSAFE_PATH', `'${path}' (UI files must be safe paths under ui/)`) };
    }
  }
  const uiEntry = parsed.manifest.ui?.entry;
  if (uiEntry !== undefined && !uiFiles.has(uiEntry)) return { kind: 'err', error: bundleError('BUNDLE_MISSING_FILE', `${uiEntry} (the manifest's ui.entry)`) };

  const manifestBytes = typeof parts.manifestJson === 'string' ? Buffer.from(parts.manifestJson, 'utf8') : parts.manifestJson;
  const entries: [string, Uint8Array][] = [
    [MANIFEST_PATH, manifestBytes],
    ...(wasm ? [[MAIN_WASM_PATH, wasm] as [string, Uint8Array]] : []),
    ...[...uiFiles.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ];
  const bytes = compressBundle(await writeTar(entries), options.compressionLevel);
  return { kind: 'ok', value: { bytes, contentHash: contentHashOf(bytes), manifest: parsed.manifest, manifestWarnings: parsed.warnings, uiOnly: wasm === undefined } };
}

async function writeTar(entries: readonly [string, Uint8Array][]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const [name, data] of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry(
        { name, size: data.byteLength, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', type: 'file' },
        Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        (error) => (error ? reject(error) : resolve()),
      );
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

export interface DirectoryPackResult extends PackedBundle {
  /** hidden files and folders under ui/ that were left out (bundles may not hold them) */
  readonly skipped: readonly string[];
}

/** `alga-runner pack <dir>`: read the author's directory and pack it. */
export async function packBundleDirectory(dir: string, options: { compressionLevel?: number } = {}): Promise<BundleResult<DirectoryPackResult>> {
  const manifestJson = await readRequired(join(dir, MANIFEST_PATH));
  if (manifestJson === undefined) return { kind: 'err', error: bundleError('BUNDLE_MISSING_FILE', join(dir, MANIFEST_PATH)) };
  // none is fine for a UI-only extension; packBundle says why when the manifest needs one
  const mainWasm = await readRequired(join(dir, MAIN_WASM_PATH));
  const uiFiles = new Map<string, Uint8Array>();
  const skipped: string[] = [];
  const walked = await walkUi(dir, 'ui', uiFiles, skipped);
  if (walked.kind === 'err') return walked;
  const packed = await packBundle({ manifestJson, mainWasm, uiFiles }, options);
  return packed.kind === 'err' ? packed : { kind: 'ok', value: { ...packed.value, skipped } };
}

async function readRequired(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function walkUi(root: string, relative: string, out: Map<string, Uint8Array>, skipped: string[]): Promise<BundleResult<null>> {
  let names: string[];
  try {
    names = await readdir(join(root, relative));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'ok', value: null };
    throw error;
  }
  for (const name of names.sort()) {
    const path = `${relative}/${name}`;
    if (name.startsWith('.')) {
      skipped.push(path);
      continue;
    }
    const stat = await lstat(join(root, path));
    if (stat.isDirectory()) {
      const inner = await walkUi(root, path, out, skipped);
      if (inner.kind === 'err') return inner;
    } else if (stat.isFile()) {
      out.set(path, await readFile(join(root, path)));
    } else {
      return { kind: 'err', error: bundleError('BUNDLE_FORBIDDEN_ENTRY_TYPE', `'${path}' is not a regular file (bundles hold no links or devices)`) };
    }
  }
  return { kind: 'ok', value: null };
}
