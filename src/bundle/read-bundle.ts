/**
 * Read a bundle held in memory (the admin upload path): every rule of the streaming reader
 * applies, and the result carries the parsed manifest, the component and the UI files.
 */
import { readArchive, sourceChunks, MAIN_WASM_PATH, UI_PREFIX, type BundleFileSink, type BundleSource } from './archive-reader.js';
import { contentHashOf, type ContentHash } from './content-hash.js';
import { bundleError, type BundleResult } from './errors.js';
import { resolveBundleLimits, type BundleLimits } from './limits.js';
import type { Manifest } from './manifest.js';
import type { ManifestProblem } from './errors.js';

export interface BundleContents {
  readonly contentHash: ContentHash;
  readonly manifest: Manifest;
  /** the manifest's unknown keys, left out (parseManifest) */
  readonly manifestWarnings: readonly ManifestProblem[];
  /** the component; null for a UI-only bundle (a UI and no API: component-rule.ts) */
  readonly mainWasm: Uint8Array | null;
  /** `ui/**` files keyed by their bundle path (`ui/index.html`) */
  readonly uiFiles: ReadonlyMap<string, Uint8Array>;
  /** other files (e.g. `dist/` extras, an SBOM) keyed by bundle path; manifest.json excluded */
  readonly otherFiles: ReadonlyMap<string, Uint8Array>;
  readonly compressedBytes: number;
  readonly decompressedBytes: number;
}

export async function readBundle(bytes: Uint8Array, options: { limits?: Partial<BundleLimits>; expectedContentHash?: string } = {}): Promise<BundleResult<BundleContents>> {
  const limits = resolveBundleLimits(options.limits);
  const contentHash = contentHashOf(bytes);
  if (options.expectedContentHash !== undefined && options.expectedContentHash !== contentHash) {
    return { kind: 'err', error: bundleError('BUNDLE_HASH_MISMATCH', `expected ${options.expectedContentHash}, got ${contentHash}`) };
  }
  const files = new Map<string, Uint8Array>();
  const sink: BundleFileSink = {
    async file(path, size, data) {
      const buffer = Buffer.allocUnsafe(size);
      let offset = 0;
      for await (const chunk of data) offset += chunk.copy(buffer, offset);
      files.set(path, buffer.subarray(0, offset));
    },
  };
  const read = await readArchive(sourceChunks(bytes as BundleSource), limits, sink);
  if (read.kind === 'err') return read;
  const uiFiles = new Map<string, Uint8Array>();
  const otherFiles = new Map<string, Uint8Array>();
  for (const [path, data] of files) {
    if (path.startsWith(UI_PREFIX)) uiFiles.set(path, data);
    else if (path !== MAIN_WASM_PATH && path !== 'manifest.json') otherFiles.set(path, data);
  }
  return {
    kind: 'ok',
    value: {
      contentHash,
      manifest: read.value.manifest,
      manifestWarnings: read.value.manifestWarnings,
      mainWasm: read.value.hasComponent ? (files.get(MAIN_WASM_PATH) ?? new Uint8Array()) : null,
      uiFiles,
      otherFiles,
      compressedBytes: read.value.compressedBytes,
      decompressedBytes: read.value.decompressedBytes,
    },
  };
}
