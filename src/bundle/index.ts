/** Bundles (`.tar.zst` with manifest.json, docs/manifest.md): the public surface other parts of the runner use. */
export { KNOWN_CAPABILITIES, normaliseCapability, type KnownCapability } from './capabilities.js';
export { contentHashOf, contentHashHex, isContentHash, type ContentHash } from './content-hash.js';
export { BUNDLE_ERRORS, bundleError, formatManifestProblems, type BundleError, type BundleErrorCode, type BundleResult, type ManifestProblem } from './errors.js';
export { DEFAULT_BUNDLE_LIMITS, resolveBundleLimits, type BundleLimits } from './limits.js';
export { checkEntryPath, type EntryPathCheck } from './entry-path.js';
export { ENDPOINT_METHODS, endpointPathProblem, manifestSchema, parseManifest, parseManifestJson, type EndpointMethod, type Manifest, type ManifestParse } from './manifest.js';
export { MAIN_WASM_PATH, MANIFEST_PATH, UI_PREFIX, type BundleSource } from './archive-reader.js';
export { readBundle, type BundleContents } from './read-bundle.js';
export { extractBundle, readExtracted, type ExtractOptions, type ExtractedBundle } from './extract.js';
export { ExtractedBundleCache, type CachedBundle, type ExtractedBundleCacheOptions } from './extracted-cache.js';
export { packBundle, packBundleDirectory, type BundleParts, type DirectoryPackResult, type PackedBundle } from './pack.js';
export { keyIdOf } from './key-id.js';
export {
  SIGNATURE_FILE_SUFFIX,
  SIGNATURE_FORMAT,
  bundleSignatureSchema,
  generateSigningKeyPair,
  parseSignature,
  signContentHash,
  verifyBundleSignature,
  type BundleSignature,
  type SignatureParse,
  type SignatureVerdict,
  type SigningKeyPair,
} from './signature.js';
export { TRUST_FORMAT, loadTrustBundle, parseTrustBundle, trustEntryFor, type TrustBundle, type TrustEntry, type TrustFile, type TrustParse, type TrustedKey } from './trust.js';
export { BUNDLE_FILE, COMPONENT_FILE, bundleKey, type StoredFile } from './stores/key-layout.js';
export { probeWithin, verifyFetched, type BundleStore, type StoreProbe, type StoredBundle } from './stores/bundle-store.js';
export { TableBundleStore, type BlobTable } from './stores/table-store.js';
export { LocalBundleStore } from './stores/local-store.js';
export { HttpBundleStore, type HttpBundleStoreOptions } from './stores/http-store.js';
export { S3BundleStore, type S3BundleStoreOptions } from './stores/s3-store.js';
export { bundleStoreConfigSchema, createBundleStore, type BundleStoreConfig } from './stores/create-store.js';
