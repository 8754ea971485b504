/**
 * Extract a bundle to a directory, atomically: files are written into a fresh temporary
 * directory beside the target, and only a bundle that passed every check is renamed into place.
 * Readers therefore see either nothing or a complete, valid bundle.
 *
 * Within a process, concurrent extractions to the same target share one promise. Across
 * processes, two extractions may run at once; the first rename wins and the loser discards its
 * temporary directory. That is only correct when the target is named by the content hash (as
 * the cache does), so that both processes extracted identical bytes.
 */
import { randomBytes } from 'node:crypto';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { readArchive, sourceChunks, MANIFEST_PATH, type BundleFileSink, type BundleSource } from './archive-reader.js';
import type { ContentHash } from './content-hash.js';
import { bundleError, type BundleResult } from './errors.js';
import { resolveBundleLimits, type BundleLimits } from './limits.js';
import { parseManifestJson, type Manifest } from './manifest.js';

export interface ExtractedBundle {
  readonly dir: string;
  readonly manifest: Manifest;
  /** sum of the extracted files' sizes */
  readonly bytes: number;
  /** true when the directory was already there (extracted earlier or by another process) */
  readonly reused: boolean;
}

export interface ExtractOptions {
  readonly limits?: Partial<BundleLimits>;
  /** refuse the bundle unless its compressed bytes hash to this */
  readonly expectedContentHash?: ContentHash;
}

const inFlight = new Map<string, Promise<BundleResult<ExtractedBundle>>>();

export function extractBundle(source: BundleSource, targetDir: string, options: ExtractOptions = {}): Promise<BundleResult<ExtractedBundle>> {
  const target = resolve(targetDir);
  const running = inFlight.get(target);
  if (running) return running;
  const job = extractOnce(source, target, options).finally(() => inFlight.delete(target));
  inFlight.set(target, job);
  return job;
}

async function extractOnce(source: BundleSource, target: string, options: ExtractOptions): Promise<BundleResult<ExtractedBundle>> {
  const existing = await readExtracted(target);
  if (existing) return { kind: 'ok', value: existing };

  const limits = resolveBundleLimits(options.limits);
  const temp = join(dirname(target), `.tmp-${basename(target)}-${process.pid}-${randomBytes(6).toString('hex')}`);
  await mkdir(temp, { recursive: true });
  try {
    const hashed = hashing(sourceChunks(source));
    const read = await readArchive(hashed.chunks, limits, diskSink(temp));
    if (read.kind === 'err') return read;
    if (options.expectedContentHash !== undefined) {
      for await (const _rest of hashed.chunks) {
        // the archive may end before the compressed input does; the hash covers every byte
      }
      const actual = hashed.digest();
      if (actual !== options.expectedContentHash) return { kind: 'err', error: bundleError('BUNDLE_HASH_MISMATCH', `expected ${options.expectedContentHash}, got ${actual}`) };
    }
    let bytes = 0;
    for (const size of read.value.files.values()) bytes += size;
    try {
      await rename(temp, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw error;
      // Another process finished the same content hash first: use its copy.
      const winner = await readExtracted(target);
      if (winner) return { kind: 'ok', value: winner };
      throw error;
    }
    return { kind: 'ok', value: { dir: target, manifest: read.value.manifest, bytes, reused: false } };
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

function diskSink(root: string): BundleFileSink {
  const rootPrefix = root + sep;
  return {
    async file(path, _size, data) {
      const destination = resolve(root, path);
      // checkEntryPath already made escaping impossible; this keeps it impossible if it changes.
      if (!destination.startsWith(rootPrefix)) throw new Error(`bug: bundle path ${path} resolved outside ${root}`);
      await mkdir(dirname(destination), { recursive: true });
      await pipeline(Readable.from(data), createWriteStream(destination, { flags: 'wx', mode: 0o644 }));
    },
  };
}

function hashing(chunks: AsyncIterable<Uint8Array>): { chunks: AsyncIterable<Uint8Array>; digest(): ContentHash } {
  const hash = createHash('sha256');
  const iterator = chunks[Symbol.asyncIterator]();
  const wrapped: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      async next() {
        const step = await iterator.next();
        if (!step.done) hash.update(step.value);
        return step;
      },
    }),
  };
  return { chunks: wrapped, digest: () => `sha256:${hash.digest('hex')}` };
}

/** An already-extracted bundle at `dir`, or undefined when there is none (or it is damaged). */
export async function readExtracted(dir: string): Promise<ExtractedBundle | undefined> {
  let manifestBytes: Buffer;
  try {
    manifestBytes = await readFile(join(dir, MANIFEST_PATH));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
  const parsed = parseManifestJson(manifestBytes);
  if (parsed.kind === 'err') return undefined;
  return { dir, manifest: parsed.manifest, bytes: await directorySize(dir), reused: true };
}

export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const stat = await lstat(path);
    total += stat.isDirectory() ? await directorySize(path) : stat.size;
  }
  return total;
}
