/**
 * zstd through zstd-napi's low-level context. Its `DecompressStream` expands a whole input chunk
 * in one synchronous loop, so a 64 KiB chunk of a zstd bomb could allocate gigabytes before any
 * counter saw it. Here every output block (≤ ZSTD_DStreamOutSize, 128 KiB) is counted, checked
 * and yielded before the next one is produced.
 */
import binding from 'zstd-napi/binding.js';
import { compress } from 'zstd-napi';
import { BundleFailure, bundleError } from './errors.js';
import type { BundleLimits } from './limits.js';

/** 2^25 = 32 MiB: enough for level-19 frames (8 MiB windows), bounds decoder memory. */
const WINDOW_LOG_MAX = 25;
const OUT_BLOCK = binding.dStreamOutSize();

export interface DecompressCounters {
  compressedBytes: number;
  decompressedBytes: number;
}

/**
 * Decompress `source` lazily. Throws `BundleFailure` (caught at the bundle module boundary) when
 * the compressed input, the total output or the expansion ratio passes `limits`, or when the data
 * is not zstd.
 */
export async function* decompressBounded(source: AsyncIterable<Uint8Array>, limits: BundleLimits, counters: DecompressCounters = { compressedBytes: 0, decompressedBytes: 0 }): AsyncGenerator<Buffer> {
  const dctx = new binding.DCtx();
  dctx.setParameter(binding.DParameter.windowLogMax, WINDOW_LOG_MAX);
  let midFrame = false;
  for await (const chunk of source) {
    counters.compressedBytes += chunk.byteLength;
    if (counters.compressedBytes > limits.maxCompressedBytes) {
      throw new BundleFailure(bundleError('BUNDLE_TOO_LARGE', `more than ${limits.maxCompressedBytes} compressed bytes`));
    }
    let input = chunk;
    for (;;) {
      const output = Buffer.allocUnsafe(OUT_BLOCK);
      let produced: number;
      let consumed: number;
      let remaining: number;
      try {
        [remaining, produced, consumed] = dctx.decompressStream(output, input);
      } catch (error) {
        throw new BundleFailure(bundleError('BUNDLE_CORRUPT', `zstd: ${(error as Error).message}`));
      }
      input = input.subarray(consumed);
      if (produced > 0) {
        counters.decompressedBytes += produced;
        checkExpansion(counters, limits);
        yield output.subarray(0, produced);
      }
      if (input.byteLength === 0 && (produced < output.byteLength || remaining === 0)) {
        midFrame = remaining !== 0;
        break;
      }
    }
  }
  if (midFrame) throw new BundleFailure(bundleError('BUNDLE_CORRUPT', 'zstd stream ends in the middle of a frame'));
}

function checkExpansion(counters: DecompressCounters, limits: BundleLimits): void {
  if (counters.decompressedBytes > limits.maxTotalBytes) {
    throw new BundleFailure(bundleError('BUNDLE_TOO_LARGE', `more than ${limits.maxTotalBytes} bytes once decompressed`));
  }
  if (counters.decompressedBytes > limits.ratioGraceBytes && counters.decompressedBytes > limits.maxRatio * counters.compressedBytes) {
    throw new BundleFailure(bundleError('BUNDLE_RATIO_EXCEEDED', `${counters.compressedBytes} compressed bytes expanded past ${counters.decompressedBytes} (limit ${limits.maxRatio}x)`));
  }
}

/**
 * Measured on a 12.3 MB componentize-js component: level 3 → 3.80 MB in 0.24 s, level 12 →
 * 3.41 MB in 0.75 s, level 19 → 3.03 MB in 10.5 s. Level 12 keeps `pack` quick for authors.
 */
export const PACK_COMPRESSION_LEVEL = 12;

export function compressBundle(tar: Uint8Array, level = PACK_COMPRESSION_LEVEL): Buffer {
  return compress(tar, { compressionLevel: level, checksumFlag: true });
}
