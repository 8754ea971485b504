/** `alga-runner build [dir]`: type check, bundle, componentize → dist/main.wasm (src/cli/build/). */
import type { Command } from 'commander';
import { entryOption, worldOption, type World } from './project-options.js';

export function registerBuildCommand(program: Command): void {
  program
    .command('build')
    .description('build an extension project into dist/main.wasm: type check, bundle (esbuild), componentize (componentize-js); cached by content hash')
    .argument('[dir]', 'the project (manifest.json, src/index.ts)', '.')
    .addOption(entryOption())
    .option('--out <file>', 'component to write, relative to the project', 'dist/main.wasm')
    .addOption(worldOption())
    .addHelpText(
      'after',
      [
        '',
        'Steps: bundle (esbuild; @alga-psa/extension-runtime resolves to @alga-runner/sdk/alga-runtime), type check',
        "(the entry and its imports against the SDK's and the world's declarations; a project using Alga's runtime gets",
        'warnings instead, except for imports that do not exist), componentize (10-40 s, progress on stderr). The build',
        'cache is .alga-runner/build/ in the project: an unchanged build is instant. docs/authoring.md has the details.',
      ].join('\n'),
    )
    .action(async (dir: string, options: { entry: string; out: string; world?: World }) => {
      const { buildProject, BuildError, streamReporter } = await import('../build/index.js');
      try {
        await buildProject(dir, options, streamReporter(process.stderr));
      } catch (e) {
        if (!(e instanceof BuildError)) throw e;
        process.stderr.write(`alga-runner build: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
}
