/**
 * Builds an extension project the way scripts/build-examples.mjs builds the example guests —
 * type check against the world's guest declarations, esbuild bundle (the entry wrapped with the
 * SDK's host import for the world), componentize-js without wasi:http — into <dir>/dist/main.wasm.
 * It stands in for `alga-runner build` in the tests of `alga-runner new`'s templates.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export type World = 'seed' | 'alga';

const witPath = (world: World) => join(root, 'wit', ...(world === 'seed' ? ['world.wit'] : ['alga', 'world.wit']));

async function typeCheck(dir: string, witText: string): Promise<void> {
  const ts = (await import('typescript')).default;
  const { $init, generateTypes } = await import('@bytecodealliance/jco-transpile/component');
  await $init;
  const typesDir = await mkdtemp(join(tmpdir(), 'guest-types-'));
  try {
    const files = generateTypes('runner', { wit: { tag: 'source', val: witText }, world: 'runner', guest: true, features: { tag: 'list', val: [] } });
    const declarations: string[] = [];
    for (const [path, bytes] of files) {
      await mkdir(dirname(join(typesDir, path)), { recursive: true });
      await writeFile(join(typesDir, path), bytes);
      declarations.push(join(typesDir, path));
    }
    const config = ts.getParsedCommandLineOfConfigFile(join(dir, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
    if (!config) throw new Error(`cannot read ${dir}/tsconfig.json`);
    const program = ts.createProgram([...config.fileNames, ...declarations.filter((f) => f.endsWith('.d.ts'))], config.options);
    const diagnostics = ts.getPreEmitDiagnostics(program);
    if (diagnostics.length > 0) {
      const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' };
      throw new Error(`type errors:\n${ts.formatDiagnostics(diagnostics, host)}`);
    }
  } finally {
    await rm(typesDir, { recursive: true, force: true });
  }
}

/** Returns the component's size in bytes. */
export async function buildLikeExamples(dir: string, world: World): Promise<number> {
  const witText = await readFile(witPath(world), 'utf8');
  await typeCheck(dir, witText);
  const esbuild = await import('esbuild');
  // the SDK resolves from the project's node_modules, as it would outside this repository
  const bundled = await esbuild.build({
    stdin: { contents: `import '@alga-runner/sdk/host/${world}';\nexport * from './src/index.ts';\n`, resolveDir: dir, sourcefile: 'entry.js', loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['alga:*', 'wasi:*'],
    logLevel: 'silent',
  });
  const scratch = await mkdtemp(join(tmpdir(), 'project-build-'));
  try {
    const sourcePath = join(scratch, 'index.js');
    await writeFile(sourcePath, bundled.outputFiles[0]!.text);
    // componentize-js takes the WIT inline (`witWorld`, as scripts/build-examples.mjs passes it): its
    // wasm tools cannot open host paths, and its types list only `witPath`
    const componentize = (await import('@bytecodealliance/componentize-js')).componentize as unknown as (options: {
      sourcePath: string;
      witWorld: string;
      worldName: string;
      disableFeatures: string[];
    }) => Promise<{ component: Uint8Array }>;
    const { component } = await componentize({ sourcePath, witWorld: witText, worldName: 'runner', disableFeatures: ['http', 'fetch-event'] });
    await mkdir(join(dir, 'dist'), { recursive: true });
    await writeFile(join(dir, 'dist', 'main.wasm'), component);
    return component.byteLength;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
