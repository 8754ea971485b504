/**
 * Caps applied while reading a bundle. Defaults fit a componentize-js extension (a ~12 MB
 * component that zstd compresses ~4x) plus a modest UI with room to spare, and refuse archives
 * that try to exhaust disk, memory or inodes.
 */
export interface BundleLimits {
  /** compressed bundle bytes (what is uploaded or downloaded) */
  readonly maxCompressedBytes: number;
  /** total decompressed tar stream bytes (headers and padding included) */
  readonly maxTotalBytes: number;
  /** bytes of one file */
  readonly maxFileBytes: number;
  /** tar entries, directories included */
  readonly maxEntries: number;
  /** decompressed / compressed bytes, checked once more than `ratioGraceBytes` came out */
  readonly maxRatio: number;
  /** small archives compress extremely well (tar padding is zeros); the ratio is judged past this */
  readonly ratioGraceBytes: number;
}

export const DEFAULT_BUNDLE_LIMITS: BundleLimits = {
  maxCompressedBytes: 64 * 1024 * 1024,
  maxTotalBytes: 256 * 1024 * 1024,
  maxFileBytes: 128 * 1024 * 1024,
  maxEntries: 4096,
  maxRatio: 100,
  ratioGraceBytes: 4 * 1024 * 1024,
};

export function resolveBundleLimits(overrides: Partial<BundleLimits> = {}): BundleLimits {
  const limits = { ...DEFAULT_BUNDLE_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`bundle limit ${name} must be a positive number, got ${value}`);
  }
  return limits;
}
