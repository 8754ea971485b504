/** `alga-runner build [dir]`: type check, bundle, componentize → dist/main.wasm (src/cli/build/). */
import { Option, type Command } from 'commander';

export function registerBuildCommand(program: Command): void {
  program
    .command('build')
    .description('build an extension project into dist/main.wasm: type check, bundle (esbuild), componentize (componentize-js); cached by content hash')
    .argument('[dir]', 'the project (manifest.json, src/index.ts)', '.')
    .option('--entry <file>', 'entry module exporting `handler`, relative to the project', 'src/index.ts')
    .option('--out <file>', 'component to write, relative to the project', 'dist/main.wasm')
    .addOption(new Option('--world <world>', "WIT dialect to build for (default: alga when the sources import Alga's @alga-psa/extension-runtime, else seed)").choices(['seed', 'alga']))
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
    .action(async (dir: string, options: { entry: string; out: string; world?: 'seed' | 'alga' }) => {
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
