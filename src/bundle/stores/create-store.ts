/** Choose a bundle store from validated configuration (read once at start by the service). */
import { z } from 'zod';
import type { BundleStore } from './bundle-store.js';
import { HttpBundleStore } from './http-store.js';
import { LocalBundleStore } from './local-store.js';
import { S3BundleStore } from './s3-store.js';

export const bundleStoreConfigSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('local'), dir: z.string().min(1) }),
  z.strictObject({ kind: z.literal('http'), baseUrl: z.url({ protocol: /^https?$/ }), timeoutMs: z.number().int().positive().optional() }),
  z.strictObject({
    kind: z.literal('s3'),
    bucket: z.string().min(1),
    prefix: z.string().optional(),
    region: z.string().min(1).default('us-east-1'),
    /** for S3-compatible servers (MinIO...); omit for AWS */
    endpoint: z.url().optional(),
    forcePathStyle: z.boolean().optional(),
  }),
]);

export type BundleStoreConfig = z.input<typeof bundleStoreConfigSchema>;

export function createBundleStore(config: BundleStoreConfig): BundleStore {
  const parsed = bundleStoreConfigSchema.parse(config);
  switch (parsed.kind) {
    case 'local':
      return new LocalBundleStore(parsed.dir);
    case 'http':
      return new HttpBundleStore({ baseUrl: parsed.baseUrl, timeoutMs: parsed.timeoutMs });
    case 's3':
      return new S3BundleStore({
        bucket: parsed.bucket,
        prefix: parsed.prefix,
        clientConfig: { region: parsed.region, endpoint: parsed.endpoint, forcePathStyle: parsed.forcePathStyle },
      });
  }
}
