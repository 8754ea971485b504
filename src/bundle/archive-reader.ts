/**
 * The one streaming reader of bundle archives, shared by in-memory reading and extraction to
 * disk. It decompresses with caps (zstd.ts), walks the tar entries with tar-stream, and lets a
 * file reach the sink only after its header passed every rule: safe path, regular file or
 * directory only (no links, devices, fifos), not seen before, within the size and count caps.
 * It then checks what a bundle must hold (manifest.json, the UI entry, and dist/main.wasm unless
 * the manifest makes it a UI-only bundle: component-rule.ts).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { checkEntryPath, parentDirectories } from './entry-path.js';
import { componentRequiredBecause } from './component-rule.js';
import { BundleFailure, bundleError, type BundleError, type BundleResult, type ManifestProblem } from './errors.js';
import type { BundleLimits } from './limits.js';
import { parseManifestJson, type Manifest } from './manifest.js';
import { decompressBounded, type DecompressCounters } from './zstd.js';

export const MANIFEST_PATH = 'manifest.json';
export const MAIN_WASM_PATH = 'dist/main.wasm';
export const UI_PREFIX = 'ui/';
const MAX_MANIFEST_BYTES = 1024 * 1024;
const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** Receives each accepted file (manifest.json included) in archive order. */
export interface BundleFileSink {
  file(path: string, size: number, data: AsyncIterable<Buffer>): Promise<void>;
}

export interface ArchiveSummary {
  readonly manifest: Manifest;
  /** the manifest's unknown keys, left out (parseManifest) */
  readonly manifestWarnings: readonly ManifestProblem[];
  /** false for a UI-only bundle: no dist/main.wasm, a UI and no API (component-rule.ts) */
  readonly hasComponent: boolean;
  /** every file path in the bundle, in archive order */
  readonly files: ReadonlyMap<string, number>;
  readonly compressedBytes: number;
  readonly decompressedBytes: number;
}

/** Read a whole bundle through `sink`. Expected failures come back as `{kind: 'err'}`. */
export async function readArchive(source: AsyncIterable<Uint8Array>, limits: BundleLimits, sink: BundleFileSink): Promise<BundleResult<ArchiveSummary>> {
  try {
    return { kind: 'ok', value: await walkArchive(source, limits, sink) };
  } catch (error) {
    return { kind: 'err', error: asBundleError(error) };
  }
}

export function asBundleError(error: unknown): BundleError {
  if (error instanceof BundleFailure) return error.error;
  // tar-stream reports malformed headers as plain errors; everything else here is a bug.
  if (error instanceof Error && /header|tar|unexpected end/i.test(error.message)) return bundleError('BUNDLE_CORRUPT', `tar: ${error.message}`);
  throw error;
}

async function walkArchive(source: AsyncIterable<Uint8Array>, limits: BundleLimits, sink: BundleFileSink): Promise<ArchiveSummary> {
  const counters: DecompressCounters = { compressedBytes: 0, decompressedBytes: 0 };
  const extract = tar.extract();
  let feedError: unknown;
  const feed = pipeline(Readable.from(decompressBounded(source, limits, counters)), extract).catch((error: unknown) => {
    feedError = error;
  });

  const files = new Map<string, number>();
  const directories = new Set<string>();
  let entries = 0;
  let manifestBytes: Buffer | undefined;
  let wasmHead: Buffer | undefined;
  try {
    for await (const entry of extract) {
      const header = entry.header;
      const data = entry as unknown as AsyncIterable<Buffer>;
      entries += 1;
      if (entries > limits.maxEntries) throw new BundleFailure(bundleError('BUNDLE_TOO_MANY_ENTRIES', `more than ${limits.maxEntries} entries`));
      const type = header.type ?? 'file';
      if (type === 'directory' && (header.name === './' || header.name === '.')) {
        await drain(data); // the archive root itself, as `tar -C dir -cf - .` writes it
        continue;
      }
      if (type !== 'file' && type !== 'directory') {
        throw new BundleFailure(bundleError('BUNDLE_FORBIDDEN_ENTRY_TYPE', `'${header.name}' is a ${type}`));
      }
      const checked = checkEntryPath(header.name, { directory: type === 'directory' });
      if (checked.kind === 'err') throw new BundleFailure(bundleError('BUNDLE_UNSAFE_PATH', `'${header.name}': ${checked.reason}`));
      const path = checked.path;
      if (files.has(path) || directories.has(path)) throw new BundleFailure(bundleError('BUNDLE_DUPLICATE_ENTRY', `'${path}'`));
      for (const parent of parentDirectories(path)) {
        if (files.has(parent)) throw new BundleFailure(bundleError('BUNDLE_UNSAFE_PATH', `'${path}' lies under the file '${parent}'`));
      }

      const size = header.size ?? 0;
      if (type === 'directory') {
        directories.add(path);
        for (const parent of parentDirectories(path)) directories.add(parent);
        await drain(data);
        continue;
      }
      if (size > limits.maxFileBytes) throw new BundleFailure(bundleError('BUNDLE_ENTRY_TOO_LARGE', `'${path}' is ${size} bytes (limit ${limits.maxFileBytes})`));
      files.set(path, size);
      for (const parent of parentDirectories(path)) directories.add(parent);

      if (path === MANIFEST_PATH) {
        if (size > MAX_MANIFEST_BYTES) throw new BundleFailure(bundleError('BUNDLE_ENTRY_TOO_LARGE', `manifest.json is ${size} bytes (limit ${MAX_MANIFEST_BYTES})`));
        manifestBytes = await collect(data);
        await sink.file(path, size, once(manifestBytes));
      } else if (path === MAIN_WASM_PATH) {
        await sink.file(
          path,
          size,
          captureHead(data, (head) => (wasmHead = head)),
        );
      } else {
        await sink.file(path, size, data);
      }
    }
  } catch (error) {
    extract.destroy();
    await feed;
    throw feedError instanceof BundleFailure ? feedError : error;
  }
  await feed;
  if (feedError !== undefined) throw feedError;

  if (!manifestBytes) throw new BundleFailure(bundleError('BUNDLE_MISSING_FILE', MANIFEST_PATH));
  const hasComponent = files.has(MAIN_WASM_PATH);
  if (hasComponent && (!wasmHead || !WASM_MAGIC.every((byte, i) => wasmHead?.[i] === byte))) {
    throw new BundleFailure(bundleError('BUNDLE_INVALID_WASM', 'it does not start with the \\0asm magic'));
  }
  const parsed = parseManifestJson(manifestBytes);
  if (parsed.kind === 'err') throw new BundleFailure(bundleError('BUNDLE_INVALID_MANIFEST', `${parsed.problems.length} problem(s)`, parsed.problems));
  const required = hasComponent ? undefined : componentRequiredBecause(parsed.manifest);
  if (required) throw new BundleFailure(bundleError('BUNDLE_MISSING_FILE', `${MAIN_WASM_PATH}: ${required}`));
  const uiEntry = parsed.manifest.ui?.entry;
  if (uiEntry !== undefined && !files.has(uiEntry)) throw new BundleFailure(bundleError('BUNDLE_MISSING_FILE', `${uiEntry} (the manifest's ui.entry)`));
  return { manifest: parsed.manifest, manifestWarnings: parsed.warnings, hasComponent, files, compressedBytes: counters.compressedBytes, decompressedBytes: counters.decompressedBytes };
}

async function drain(stream: AsyncIterable<Buffer>): Promise<void> {
  for await (const _chunk of stream) {
    // directories carry no data; reading keeps the tar parser moving
  }
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function* once(buffer: Buffer): AsyncGenerator<Buffer> {
  yield buffer;
}

async function* captureHead(stream: AsyncIterable<Buffer>, onHead: (head: Buffer) => void): AsyncGenerator<Buffer> {
  let head = Buffer.alloc(0);
  for await (const chunk of stream) {
    if (head.byteLength < WASM_MAGIC.length) {
      head = Buffer.concat([head, chunk.subarray(0, WASM_MAGIC.length - head.byteLength)]);
      onHead(head);
    }
    yield chunk;
  }
}

/** Bytes, a Node stream or any async iterable of chunks, as the reader's input. */
export type BundleSource = Uint8Array | AsyncIterable<Uint8Array>;

export function sourceChunks(source: BundleSource, chunkSize = 64 * 1024): AsyncIterable<Uint8Array> {
  if (!(source instanceof Uint8Array)) return source;
  return (async function* () {
    for (let offset = 0; offset < source.byteLength; offset += chunkSize) yield source.subarray(offset, offset + chunkSize);
  })();
}
