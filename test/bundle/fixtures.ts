/** Builders for test bundles, honest and hostile, made with the same libraries as the runner. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { compress } from 'zstd-napi';

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  data?: Uint8Array | string;
  linkname?: string;
}

export async function makeTar(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const entry of entries) {
    const data = entry.data === undefined ? Buffer.alloc(0) : Buffer.from(entry.data);
    const type = entry.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      pack.entry(
        { name: entry.name, type, size: type === 'file' ? data.byteLength : 0, linkname: entry.linkname, mode: 0o644, mtime: new Date(0) },
        type === 'file' ? data : Buffer.alloc(0),
        (error) => (error ? reject(error) : resolve()),
      );
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const zstd = (bytes: Uint8Array, level = 3): Buffer => compress(bytes, { compressionLevel: level });

/** A minimal valid component header (magic + component-model version) plus filler. */
export const WASM = Buffer.concat([Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]), Buffer.alloc(256, 1)]);

export function manifest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'com.acme.hello',
    publisher: 'Acme',
    version: '1.2.3',
    runtime: 'wasm-js@1',
    capabilities: ['cap:log.emit', 'cap:storage.kv'],
    ui: { type: 'iframe', entry: 'ui/index.html' },
    api: { endpoints: [{ method: 'GET', path: '/items/:id', handler: 'dist/main' }] },
    assets: ['ui/**/*'],
    ...overrides,
  };
}

/** The entries of a valid bundle, to which a test adds one hostile entry. */
export function validEntries(): TarEntry[] {
  return [
    { name: 'manifest.json', data: JSON.stringify(manifest()) },
    { name: 'dist/main.wasm', data: WASM },
    { name: 'ui/index.html', data: '<!doctype html><p>hello</p>' },
  ];
}

export async function validBundle(): Promise<Buffer> {
  return zstd(await makeTar(validEntries()));
}

export async function withTempDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'alga-bundle-test-'));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
