/**
 * `alga-runner dev` as an author runs it (a real process, real builds): it serves a new project
 * through its dev gateway and UI, prints the extension's log lines, picks up an edit (sources,
 * manifest, secrets file) and answers from the new build, and keeps its store across restarts. The
 * UI is also opened in headless Chromium when it is installed (as test/bundle-service/browser.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { runCli, startCli, type RunningCli } from '../support/cli-process.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const work = mkdtempSync(join(tmpdir(), 'alga-runner-dev-'));
const project = join(work, 'desk-notes');
const api = (url: string, route: string) => `${url}/api/ext/com.example.desk-notes${route}`;

async function startDev(): Promise<{ dev: RunningCli; url: string }> {
  const dev = startCli(['dev', '--port', '0'], project);
  const [, url] = await dev.waitFor('stderr', /dev: runner at (http:\/\/127\.0\.0\.1:\d+)/);
  await dev.waitFor('stderr', /dev: serving: com\.example\.desk-notes 0\.1\.0-dev-[0-9a-f]{12} \(build/);
  await dev.waitFor('stderr', /dev: watching the project/);
  return { dev, url: url! };
}

// a dev process that never prints what a test waits for fails the test instead of hanging the run
describe('alga-runner dev', { timeout: 180_000 }, () => {
  let dev: RunningCli;
  let url: string;

  before(async () => {
    const made = await runCli(['new', 'desk-notes', '--template', 'ui'], work);
    assert.equal(made.code, 0, made.stderr);
    ({ dev, url } = await startDev());
  });
  after(async () => {
    await dev?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('prints its addresses and answers through the dev gateway without a token', async () => {
    assert.match(dev.stderr, new RegExp(`dev: API: ${url}/api/ext/com\\.example\\.desk-notes/hello`));
    assert.match(dev.stderr, new RegExp(`dev: UI: {2}${url}/dev/ui`));
    const hello = await fetch(api(url, '/hello'));
    assert.equal(hello.status, 200);
    assert.deepEqual(await hello.json(), { message: 'Hello, demo, from desk-notes!' });
  });

  it("streams the extension's log lines to the terminal", async () => {
    const from = dev.stdout.length;
    const created = await fetch(api(url, '/notes'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'first' }) });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    await dev.waitFor('stdout', new RegExp(`log: INFO {2}note ${id} created`), from);
  });

  it("serves the UI at /dev/ui, and the page's own API call is answered", async () => {
    const redirect = await fetch(`${url}/dev/ui`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    const location = redirect.headers.get('location')!;
    assert.match(location, /^\/ext-ui\/[^/]+\/sha256:[0-9a-f]{64}\/index\.html$/);
    const page = await fetch(`${url}${location}`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>desk-notes<\/title>/);
    // what ui/app.js does: the extension id from its own path, then fetch('/api/ext/<id>/hello') on the same origin
    const extensionId = decodeURIComponent(location.split('/')[2]!);
    const answer = await fetch(`${url}/api/ext/${encodeURIComponent(extensionId)}/hello`, { headers: { accept: 'application/json' } });
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { message: 'Hello, demo, from desk-notes!' });
  });

  it(
    'in a browser, the page shows what the extension answers and saves a note through it',
    { skip: existsSync(CHROMIUM) || process.env.CI === 'true' ? false : `${CHROMIUM} is not installed` },
    async () => {
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      try {
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
        page.on('response', (r) => {
          if (r.status() >= 400) problems.push(`${r.status()} for ${r.url()}`);
        });
        await page.goto(`${url}/dev/ui`);
        await page.waitForFunction(() => document.querySelector('#greeting')?.textContent !== '…');
        assert.equal(await page.textContent('#greeting'), 'Hello, demo, from desk-notes!');
        await page.fill('#text', 'from the browser');
        await page.click('button[type=submit]');
        await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Saved.');
        // the page lists the notes again after saving: the list the extension answers
        await page.waitForFunction(() => [...document.querySelectorAll('#notes li')].some((li) => li.textContent === 'from the browser'));
        assert.deepEqual(await page.locator('#notes li').allTextContents(), ['first', 'from the browser']);
        assert.deepEqual(problems, []);
      } finally {
        await browser.close();
      }
    },
  );

  it('an edit (source, manifest, secrets file) is built and answered by the new build', async () => {
    const uiBefore = (await fetch(`${url}/dev/ui`, { redirect: 'manual' })).headers.get('location');
    const from = dev.stderr.length;
    writeFileSync(join(project, '.secrets.json'), JSON.stringify({ API_KEY: 'dev-key-1' }));
    const manifestPath = join(project, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { capabilities: string[]; api: { endpoints: { method: string; path: string; handler: string }[] } };
    manifest.capabilities.push('cap:secrets.get');
    manifest.api.endpoints.push({ method: 'GET', path: '/key', handler: 'dist/main' });
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
    const source = join(project, 'src', 'index.ts');
    writeFileSync(
      source,
      readFileSync(source, 'utf8')
        .replace('Hello, ${ctx.tenantId}', 'Howdy, ${ctx.tenantId}')
        .replace('import { createApp,', 'import { secrets, createApp,')
        .replace(
          'export const handler',
          "app.get('/key', () => {\n  const key = secrets.get('API_KEY');\n  return key.ok ? json({ key: key.value }) : problem(500, key.error);\n});\n\nexport const handler",
        ),
    );
    await dev.waitFor('stderr', /dev: reloaded: com\.example\.desk-notes 0\.1\.0-dev-[0-9a-f]{12} \(build/, from);
    assert.match(dev.stderr.slice(from), /dev: secrets from \.secrets\.json: API_KEY/);
    assert.deepEqual(await (await fetch(api(url, '/hello'))).json(), { message: 'Howdy, demo, from desk-notes!' });
    assert.deepEqual(await (await fetch(api(url, '/key'))).json(), { key: 'dev-key-1' });
    // /dev/ui follows the reload: the new build's page (a new content hash), and the old one is no longer served
    const uiAfter = (await fetch(`${url}/dev/ui`, { redirect: 'manual' })).headers.get('location');
    assert.ok(uiBefore && uiAfter && uiAfter !== uiBefore, `${uiBefore} → ${uiAfter}`);
    assert.equal((await fetch(`${url}${uiAfter}`)).status, 200);
    assert.equal((await fetch(`${url}${uiBefore}`)).status, 404);
  });

  it('a broken edit leaves the previous build serving', async () => {
    const from = dev.stderr.length;
    const source = join(project, 'src', 'index.ts');
    const good = readFileSync(source, 'utf8');
    const back = dev.stderr.length;
    try {
      writeFileSync(source, good.replace('Howdy, ${ctx.tenantId}', 'Howdy, ${ctx.tenant}'));
      await dev.waitFor('stderr', /dev: still serving 0\.1\.0-dev-[0-9a-f]{12}; fix it and save to try again/, from);
      assert.match(dev.stderr.slice(from), /dev: build failed: type check failed \(1 error\).*\n {2}src\/index\.ts:\d+:\d+: TS\d+: Property 'tenant' does not exist/);
      assert.deepEqual(await (await fetch(api(url, '/hello'))).json(), { message: 'Howdy, demo, from desk-notes!' });
    } finally {
      // back as it was: the cached component, no componentize
      writeFileSync(source, good);
    }
    await dev.waitFor('stderr', /dev: (reloaded|unchanged): com\.example\.desk-notes/, back);
    assert.doesNotMatch(dev.stderr.slice(back), /componentizing/);
  });

  it('the store outlives the process: a restart still has the notes', async () => {
    assert.equal(await dev.stop(), 0);
    ({ dev, url } = await startDev());
    const notes = (await (await fetch(api(url, '/notes'))).json()) as { notes: { text: string }[] };
    assert.ok(
      notes.notes.some((n) => n.text === 'first'),
      JSON.stringify(notes),
    );
  });
});
