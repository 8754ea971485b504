/**
 * Bundles in S3-compatible object storage (AWS S3, MinIO, Ceph...) under Alga's key layout,
 * optionally below a prefix. Credentials come from the SDK's usual chain (environment, profile,
 * instance role); none are taken in configuration here. The SDK is loaded on first use, so
 * commands that never touch S3 (the CLI) do not pay for importing it.
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { contentHashOf, type ContentHash } from '../content-hash.js';
import { bundleError, type BundleResult } from '../errors.js';
import { DEFAULT_BUNDLE_LIMITS } from '../limits.js';
import { probeWithin, verifyFetched, type BundleStore, type StoreProbe, type StoredBundle } from './bundle-store.js';
import { BUNDLE_FILE, bundleKey, type StoredFile } from './key-layout.js';

export interface S3BundleStoreOptions {
  readonly bucket: string;
  /** key prefix before `tenants/...`, e.g. `alga/` */
  readonly prefix?: string;
  /** a ready client, or the config to make one (endpoint, region, forcePathStyle...) */
  readonly client?: S3Client;
  readonly clientConfig?: S3ClientConfig;
  readonly maxBytes?: number;
}

export class S3BundleStore implements BundleStore {
  readonly kind = 's3';
  private clientPromise: Promise<S3Client> | undefined;
  private readonly prefix: string;
  private readonly maxBytes: number;

  constructor(private readonly options: S3BundleStoreOptions) {
    if (options.client) this.clientPromise = Promise.resolve(options.client);
    this.prefix = options.prefix ?? '';
    this.maxBytes = options.maxBytes ?? DEFAULT_BUNDLE_LIMITS.maxCompressedBytes;
  }

  private client(): Promise<S3Client> {
    this.clientPromise ??= sdk().then(
      // Only ask for checksums where S3 requires them: S3-compatible servers differ in support.
      ({ S3Client }) => new S3Client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', ...this.options.clientConfig }),
    );
    return this.clientPromise;
  }

  async getBundle(tenant: string, extension: string, contentHash: string, file?: StoredFile): Promise<BundleResult<Uint8Array>> {
    const key = bundleKey(tenant, extension, contentHash, file);
    if (key.kind === 'err') return key;
    const objectKey = this.prefix + key.value;
    const where = `s3://${this.options.bucket}/${objectKey}`;
    const { GetObjectCommand, NoSuchKey, S3ServiceException } = await sdk();
    try {
      const object = await (await this.client()).send(new GetObjectCommand({ Bucket: this.options.bucket, Key: objectKey }));
      if ((object.ContentLength ?? 0) > this.maxBytes) {
        object.Body?.transformToWebStream()
          .cancel()
          .catch(() => undefined);
        return { kind: 'err', error: bundleError('BUNDLE_TOO_LARGE', `${where} is ${object.ContentLength} bytes (limit ${this.maxBytes})`) };
      }
      if (!object.Body) return { kind: 'err', error: bundleError('BUNDLE_STORE_UNAVAILABLE', `${where} has no body`) };
      return verifyFetched(await object.Body.transformToByteArray(), contentHash, where);
    } catch (error) {
      if (error instanceof NoSuchKey || (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)) {
        return { kind: 'err', error: bundleError('BUNDLE_NOT_FOUND', where) };
      }
      return { kind: 'err', error: bundleError('BUNDLE_STORE_UNAVAILABLE', `${where}: ${(error as Error).message}`) };
    }
  }

  async putBundle(tenant: string, extension: string, bytes: Uint8Array, file: StoredFile = BUNDLE_FILE, known?: ContentHash): Promise<BundleResult<StoredBundle>> {
    if (bytes.byteLength > this.maxBytes) return { kind: 'err', error: bundleError('BUNDLE_TOO_LARGE', `${bytes.byteLength} bytes (limit ${this.maxBytes})`) };
    const contentHash = known ?? contentHashOf(bytes);
    const key = bundleKey(tenant, extension, contentHash, file);
    if (key.kind === 'err') return key;
    const objectKey = this.prefix + key.value;
    const { PutObjectCommand } = await sdk();
    try {
      await (await this.client()).send(new PutObjectCommand({ Bucket: this.options.bucket, Key: objectKey, Body: bytes, ContentType: file === BUNDLE_FILE ? 'application/zstd' : 'application/wasm' }));
    } catch (error) {
      return { kind: 'err', error: bundleError('BUNDLE_STORE_UNAVAILABLE', `put s3://${this.options.bucket}/${objectKey}: ${(error as Error).message}`) };
    }
    return { kind: 'ok', value: { contentHash, key: key.value } };
  }

  /** A HeadBucket: the bucket exists and our credentials reach it. */
  probe(timeoutMs: number): Promise<StoreProbe> {
    return probeWithin(timeoutMs, `s3://${this.options.bucket}`, async (abortSignal) => {
      const { HeadBucketCommand } = await sdk();
      await (await this.client()).send(new HeadBucketCommand({ Bucket: this.options.bucket }), { abortSignal });
      return { ok: true };
    });
  }
}

const sdk = () => import('@aws-sdk/client-s3');
