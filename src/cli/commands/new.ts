/** `alga-runner new <name> [--template api|ui]`: a new extension project (src/cli/new-project.ts). */
import { isAbsolute, relative } from 'node:path';
import { Option, type Command } from 'commander';

export function registerNewCommand(program: Command): void {
  program
    .command('new')
    .description('create an extension project: a TypeScript handler on @alga-runner/sdk, manifest.json, a test, README (and a UI page with --template ui)')
    .argument('<name>', 'project name (lowercase letters, digits, hyphens): the directory, the package and the manifest name com.example.<name>')
    .addOption(new Option('--template <template>', 'api: routes only; ui: routes and a page under ui/').choices(['api', 'ui']).default('api'))
    .option('--dir <dir>', 'where to create it (default: ./<name>); must not exist or be empty')
    .option('--no-link', "do not link node_modules/@alga-runner/sdk to this runner's SDK (run npm install yourself)")
    .addHelpText('after', "\nThen: cd <name> && npm run build && npm test, and npm run dev (alga-runner dev). The templates live in the runner's templates/ directory; docs/authoring.md is the guide.")
    .action(async (name: string, options: { template: 'api' | 'ui'; dir?: string; link: boolean }) => {
      const { createProject, NewProjectError } = await import('../new-project.js');
      try {
        const project = await createProject(name, { template: options.template, dir: options.dir, link: options.link });
        const rel = relative(process.cwd(), project.dir);
        const shown = rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? project.dir : rel;
        process.stderr.write(`created ${shown} (${options.template} template): ${project.files.join(', ')}\n`);
        process.stderr.write(project.linked ? `linked node_modules/@alga-runner/sdk → ${project.sdkDir}\n` : `run npm install in ${shown} to get @alga-runner/sdk\n`);
        process.stderr.write(`next: cd ${shown} && npm run build && npm test, then npm run dev (docs/authoring.md)\n`);
      } catch (e) {
        if (!(e instanceof NewProjectError)) throw e;
        process.stderr.write(`alga-runner new: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
}
