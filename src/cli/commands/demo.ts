/**
 * `alga-runner demo` (what `npm start` runs): the service on the embedded default with the demo
 * extension installed for tenant `demo`, demo clients/services seeded, and a working curl line.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { closeOnSignals, printBanner } from './serve.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the service on the embedded SQLite store with the demo extension installed (npm start)')
    .option('--port <n>', 'port (env PORT, default 8080)')
    .option('--data-dir <dir>', 'data directory (default .data/demo)')
    .action(async (flags: { port?: string; dataDir?: string }) => {
      const { loadConfig } = await import('../../service/config.js');
      const { startService } = await import('../../service/server.js');
      const { installDemo, installDemoUi, DEMO_EXTENSION, DEMO_UI_EXTENSION } = await import('../../service/demo.js');
      const dataDir = resolve(flags.dataDir ?? process.env.RUNNER_DATA_DIR ?? join('.data', 'demo'));
      mkdirSync(dataDir, { recursive: true });
      // the demo keeps its secrets key beside its data so restarts can read what they stored
      const keyFile = join(dataDir, 'secrets.key');
      if (!process.env.RUNNER_SECRETS_KEY && !existsSync(keyFile)) writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
      const env = { ...process.env, RUNNER_SECRETS_KEY: process.env.RUNNER_SECRETS_KEY ?? readFileSync(keyFile, 'utf8').trim() };
      const service = await startService(loadConfig({ port: flags.port, host: '127.0.0.1', dataDir }, env));
      let ui: Awaited<ReturnType<typeof installDemoUi>>;
      try {
        await installDemo(service.runtime, service.registration);
        ui = await installDemoUi(service.runtime, service.registration);
      } catch (e) {
        await service.close();
        throw e;
      }
      printBanner(service);
      process.stderr.write(
        [
          '',
          `demo extension "${DEMO_EXTENSION}" is installed for tenant "demo". Try:`,
          `  curl -s ${service.url}/api/ext/${DEMO_EXTENSION}/clients`,
          `  curl -s -X POST ${service.url}/v1/execute -H 'content-type: application/json' -H 'x-runner-service-token: ${service.serviceToken}' -H 'x-alga-tenant: demo' \\`,
          `    -d '{"context":{"tenant_id":"demo","extension_id":"${DEMO_EXTENSION}"},"http":{"method":"GET","path":"/context"}}'`,
          '',
          `demo extension "${DEMO_UI_EXTENSION}" has a UI: open ${service.url}/ext-ui/${ui.extensionId}/${ui.contentHash}/${ui.entry}`,
          `  or: curl -s ${service.url}/api/ext/${DEMO_UI_EXTENSION}/hello`,
          '',
        ].join('\n'),
      );
      // a local demo has no load balancer to wait for: Ctrl-C stops it at once
      closeOnSignals(service, 0);
    });
}
