// Writes docs/openapi.json: the OpenAPI document the service serves at GET /openapi.json, taken
// from a service started on loopback (port 0, a scratch data dir, one worker). Run after a build:
//   npm run build && node scripts/write-openapi.mjs
// test/service/openapi.test.ts fails when the checked-in file and the served document differ.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { loadConfig } = await import(join(root, 'dist/src/service/config.js'));
const { startService } = await import(join(root, 'dist/src/service/server.js'));
const { OPENAPI_PATH, openApiText } = await import(join(root, 'dist/src/service/openapi.js'));

const dataDir = mkdtempSync(join(tmpdir(), 'write-openapi-'));
const service = await startService(loadConfig({ port: '0', host: '127.0.0.1', dataDir, workers: '1' }, { LOG_LEVEL: 'warn', RUNNER_WARM_ON_START: '0' }));
try {
  const response = await fetch(`${service.url}${OPENAPI_PATH}`);
  if (!response.ok) throw new Error(`GET ${OPENAPI_PATH} answered ${response.status}`);
  const target = join(root, 'docs', 'openapi.json');
  writeFileSync(target, openApiText(await response.json()));
  console.log(`wrote ${target}`);
} finally {
  await service.close();
  rmSync(dataDir, { recursive: true, force: true });
}
