/** `alga-runner dev [dir]`: build, run on a local runner, rebuild and swap on every change (src/cli/dev/). */
import type { Command } from 'commander';
import { entryOption, worldOption, type World } from './project-options.js';

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('build the project and serve it on a local runner; every saved change is rebuilt and swapped in, its log lines are printed')
    .argument('[dir]', 'the project (manifest.json, src/index.ts)', '.')
    .option('--port <n>', 'port on 127.0.0.1', '8787')
    .option('--tenant <tenant>', 'tenant the extension is installed for (seeded with demo clients and services)', 'demo')
    .option('--allow-host <pattern>', "egress allowlist entry for the extension's http.fetch, e.g. https://api.example.com (repeatable)", (v: string, all: string[]) => [...all, v], [])
    .addOption(entryOption())
    .addOption(worldOption())
    .addHelpText(
      'after',
      [
        '',
        'The local runner keeps its store in <dir>/.alga-runner/dev (storage survives restarts) and needs no tokens',
        '(it listens on 127.0.0.1 only). The install gets every capability manifest.json declares, and its secrets',
        'from <dir>/.secrets.json ({"NAME": "value"}) and <dir>/.env (NAME=value), read again when they change.',
        'Each build becomes a dev version <version>-dev-<hash> of the install: no version bumps. The API answers on',
        "/api/ext/<manifest name>/<route>; /dev/ui redirects to the current build's UI. stdout: the install's log",
        'lines (log calls, stdout, stderr, denied calls); stderr: builds and reloads.',
      ].join('\n'),
    )
    .action(async (dir: string, options: { port: string; tenant: string; allowHost: string[]; entry: string; world?: World }) => {
      const { startDev } = await import('../dev/session.js');
      const { BuildError } = await import('../build/index.js');
      if (!/^\d+$/.test(options.port) || Number(options.port) > 65535) {
        process.stderr.write(`alga-runner dev: --port must be a port number, not ${options.port}\n`);
        process.exitCode = 1;
        return;
      }
      let session;
      try {
        session = await startDev(
          { dir, port: Number(options.port), tenant: options.tenant, allowHosts: options.allowHost, entry: options.entry, world: options.world },
          process.stdout,
          process.stderr,
        );
      } catch (e) {
        if (!(e instanceof BuildError)) throw e;
        process.stderr.write(`alga-runner dev: ${e.message}\n`);
        process.exitCode = 1;
        return;
      }
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        process.stderr.write('dev: stopping\n');
        session.close().then(
          () => process.exit(0),
          (e: unknown) => {
            process.stderr.write(`dev: stopping failed: ${String(e)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
