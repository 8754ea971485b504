/**
 * Every expected bundle failure, declared once with a stable code and the HTTP status an API
 * should answer with (after Fastify's error catalog). Codes are part of the admin API.
 */
export const BUNDLE_ERRORS = {
  BUNDLE_CORRUPT: { status: 400, summary: 'the bundle is not a valid zstd-compressed tar archive' },
  BUNDLE_TOO_LARGE: { status: 413, summary: 'the bundle is larger than allowed' },
  BUNDLE_TOO_MANY_ENTRIES: { status: 413, summary: 'the bundle holds too many entries' },
  BUNDLE_ENTRY_TOO_LARGE: { status: 413, summary: 'a bundle entry is larger than allowed' },
  BUNDLE_RATIO_EXCEEDED: { status: 413, summary: 'the bundle expands more than the allowed compression ratio' },
  BUNDLE_UNSAFE_PATH: { status: 400, summary: 'a bundle entry has an unsafe path' },
  BUNDLE_FORBIDDEN_ENTRY_TYPE: { status: 400, summary: 'a bundle entry is a link, device or other non-file' },
  BUNDLE_DUPLICATE_ENTRY: { status: 400, summary: 'a bundle entry appears twice' },
  BUNDLE_MISSING_FILE: { status: 400, summary: 'a required bundle file is missing' },
  BUNDLE_INVALID_MANIFEST: { status: 400, summary: 'the bundle manifest is invalid' },
  BUNDLE_INVALID_WASM: { status: 400, summary: 'dist/main.wasm is not WebAssembly' },
  BUNDLE_HASH_MISMATCH: { status: 400, summary: 'the bundle bytes do not match the expected content hash' },
  BUNDLE_INVALID_KEY: { status: 400, summary: 'a bundle key part (tenant, extension or content hash) is not usable' },
  BUNDLE_NOT_FOUND: { status: 404, summary: 'the bundle is not in the store' },
  BUNDLE_STORE_UNAVAILABLE: { status: 502, summary: 'the bundle store did not answer as expected' },
  BUNDLE_STORE_READ_ONLY: { status: 405, summary: 'this bundle store cannot store bundles' },
} as const;

export type BundleErrorCode = keyof typeof BUNDLE_ERRORS;

export interface ManifestProblem {
  /** dotted path into the manifest, e.g. `api.endpoints[0].path`; `(root)` for the document */
  readonly path: string;
  readonly message: string;
}

export interface BundleError {
  readonly code: BundleErrorCode;
  readonly status: number;
  /** human-readable, names the offending entry or value */
  readonly message: string;
  /** only for BUNDLE_INVALID_MANIFEST: every problem found */
  readonly problems?: readonly ManifestProblem[];
}

export function bundleError(code: BundleErrorCode, detail: string, problems?: readonly ManifestProblem[]): BundleError {
  const { status, summary } = BUNDLE_ERRORS[code];
  return problems ? { code, status, message: `${summary}: ${detail}`, problems } : { code, status, message: `${summary}: ${detail}` };
}

/**
 * Thrown inside the streaming reader to abort the pipeline, and turned back into a
 * `BundleError` result at the module boundary. Never escapes this folder.
 */
export class BundleFailure extends Error {
  constructor(readonly error: BundleError) {
    super(error.message);
  }
}

export type BundleResult<T> = { readonly kind: 'ok'; readonly value: T } | { readonly kind: 'err'; readonly error: BundleError };

export function formatManifestProblems(problems: readonly ManifestProblem[]): string {
  return problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n');
}
