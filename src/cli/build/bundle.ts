/**
 * One ES module of the guest and everything it imports but the world's interfaces, bundled by
 * esbuild as Alga's toolchain does (esm, platform neutral, es2022, `alga:extension/*` external).
 * The entry is wrapped so the SDK's `host/<world>` module comes first: it binds the SDK's calls to
 * the world the component is built for. `@alga-runner/sdk` resolves to the SDK of sdk.ts and
 * Alga's `@alga-psa/extension-runtime` to its `./alga-runtime`, so a guest written for Alga's SDK
 * builds unchanged.
 */
import { relative } from 'node:path';
import type { Plugin, Message } from 'esbuild';
import type { Project } from './project.js';
import { BuildError } from './errors.js';
import { sdkFile, sdkSubpath, type SdkLocation } from './sdk.js';

export interface Bundled {
  code: string;
  /** the names the bundle exports */
  exports: string[];
}

function sdkResolver(sdk: SdkLocation): Plugin {
  return {
    name: 'alga-runner-sdk',
    setup(build) {
      build.onResolve({ filter: /^(@alga-runner\/sdk(\/.*)?|@alga-psa\/extension-runtime)$/ }, (args) => {
        const subpath = sdkSubpath(args.path)!;
        const file = sdkFile(sdk, subpath, 'default');
        if (!file)
          return {
            errors: [{ text: `${args.path}: @alga-runner/sdk ${sdk.version} (${sdk.dir}) has no export '${subpath}'${subpath === '.' ? ' (is the SDK built? npm run build in the runner)' : ''}` }],
          };
        return { path: file };
      });
    },
  };
}

function describe(project: Project, m: Message): string {
  if (!m.location) return m.text;
  const file = m.location.file.startsWith('/') ? relative(project.dir, m.location.file) : m.location.file;
  return `${file}:${m.location.line}:${m.location.column + 1}: ${m.text}`;
}

export async function bundle(project: Project, sdk: SdkLocation): Promise<Bundled> {
  const esbuild = await import('esbuild');
  const entry = `./${relative(project.dir, project.entry).split('\\').join('/')}`;
  let result;
  try {
    result = await esbuild.build({
      stdin: {
        contents: `import '@alga-runner/sdk/host/${project.world}';\nexport * from ${JSON.stringify(entry)};\n`,
        resolveDir: project.dir,
        sourcefile: '(alga-runner entry)',
        loader: 'js',
      },
      absWorkingDir: project.dir,
      bundle: true,
      write: false,
      metafile: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      mainFields: ['module', 'main'],
      external: ['alga:extension/*', 'wasi:*'],
      plugins: [sdkResolver(sdk)],
      logLevel: 'silent',
    });
  } catch (e) {
    const errors = (e as { errors?: Message[] }).errors;
    if (!errors) throw e;
    throw new BuildError('bundle_error', `bundling failed:\n${errors.map((m) => `  ${describe(project, m)}`).join('\n')}`);
  }
  const output = Object.values(result.metafile.outputs)[0];
  const exports = output?.exports ?? [];
  if (!exports.includes('handler'))
    throw new BuildError('no_handler_export', `${relative(project.dir, project.entry)} does not export \`handler\`: the component's export (with the SDK: \`export const handler = app.handler\`)`);
  return { code: result.outputFiles[0]!.text, exports };
}
