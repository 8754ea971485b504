/**
 * The demo extension (examples/demo) as an author ships it: a source directory with manifest.json,
 * dist/main.wasm (the built component, `npm run examples`) and ui/**, packed by the real CLI
 * (`node bin/alga-runner.js pack`). Variants change the manifest or add UI files.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(repoRoot, 'bin', 'alga-runner.js');
const demoDir = join(repoRoot, 'examples', 'demo');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, RUNNER_ADMIN_TOKEN: '', ...env }, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

export async function demoManifest(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(demoDir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
}

export interface DemoVariant {
  /** merged over examples/demo/manifest.json */
  manifest?: Record<string, unknown>;
  /** extra files under ui/, by path below ui/ */
  uiFiles?: Record<string, string | Uint8Array>;
}

export interface PackedDemo {
  /** the author's source directory (a temp dir, removed by `cleanup`) */
  dir: string;
  bundlePath: string;
  bytes: Buffer;
  contentHash: string;
  cleanup(): Promise<void>;
}

/** Lays out the demo's source in a temp dir and packs it with `alga-runner pack`. */
export async function packDemo(variant: DemoVariant = {}): Promise<PackedDemo> {
  const dir = await mkdtemp(join(tmpdir(), 'demo-source-'));
  try {
    await cp(join(demoDir, 'ui'), join(dir, 'ui'), { recursive: true });
    await mkdir(join(dir, 'dist'));
    await cp(join(repoRoot, '.cache', 'examples', 'demo.wasm'), join(dir, 'dist', 'main.wasm'));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...(await demoManifest()), ...variant.manifest }, null, 2));
    for (const [path, data] of Object.entries(variant.uiFiles ?? {})) {
      await mkdir(dirname(join(dir, 'ui', path)), { recursive: true });
      await writeFile(join(dir, 'ui', path), data);
    }
    const bundlePath = join(dir, 'bundle.tar.zst');
    const packed = await cli(['pack', dir, '--out', bundlePath]);
    if (packed.code !== 0) throw new Error(`alga-runner pack failed (${packed.code}): ${packed.stderr}`);
    const bytes = await readFile(bundlePath);
    return { dir, bundlePath, bytes, contentHash: packed.stdout.trim(), cleanup: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
