/**
 * The whole author-to-browser path, end to end: the demo extension is
 * packed by `alga-runner pack`, uploaded and installed for the dev tenant through the admin API,
 * and its UI page is loaded from the runner in headless Chromium (Debian's `chromium`, driven by
 * playwright-core). Clicking its buttons calls the extension's handler through the dev gateway;
 * the test asserts on what the guest answered, as the page renders it.
 *
 * Chromium must be installed (.ci/run installs it); under CI=true a missing browser fails.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { admin, createInstall, startTestService, type Registered, type TestService } from '../service/harness.js';
import { packDemo, type PackedDemo } from './demo-bundle.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const CLIENTS = [
  { client_id: 'c-3', client_name: 'zephyr Logistics' },
  { client_id: 'c-1', client_name: 'Acme Dental' },
  { client_id: 'c-2', client_name: 'Blue Harbor Law' },
  { client_id: 'c-4', client_name: 'Closed Shop', is_inactive: true },
];

const available = existsSync(CHROMIUM);
if (!available && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium; CI must not skip the browser test`);

describe('the demo extension in a real browser', { skip: available ? false : `${CHROMIUM} is not installed (apt-get install -y chromium)` }, () => {
  let svc: TestService;
  let demo: PackedDemo;
  let browser: Browser;
  let uiUrl: string;

  before(async () => {
    [svc, demo, browser] = await Promise.all([startTestService({ examples: ['demo'] }), packDemo(), chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })]);
    const uploaded = await admin<Registered>(svc, 'POST', '/admin/v1/extensions', new Uint8Array(demo.bytes), { 'content-type': 'application/zstd' });
    assert.equal(uploaded.status, 201, JSON.stringify(uploaded.json));
    const tenant = svc.running.runtime.config.devTenant;
    await createInstall(svc, { tenant_id: tenant, extension_id: uploaded.json.extension_id });
    const seeded = await admin(svc, 'PUT', `/admin/v1/tenants/${tenant}/clients`, { items: CLIENTS });
    assert.equal(seeded.status, 204);
    uiUrl = `${svc.url}/ext-ui/${uploaded.json.extension_id}/${uploaded.json.content_hash}/index.html`;
  });
  after(async () => {
    await Promise.all([browser?.close(), svc?.close(), demo?.cleanup()]);
  });

  test('the page loads from the runner, and its buttons show what the guest answers', async () => {
    const page = await browser.newPage();
    // script errors and CSP violations surface as page errors or console errors: none is expected
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} for ${r.url()}`);
    });

    const response = await page.goto(uiUrl);
    assert.equal(response?.status(), 200);
    assert.match(response.headers()['content-security-policy'] ?? '', /frame-ancestors 'self'/);
    assert.equal(await page.textContent('h1'), 'Demo extension');

    // after a click the page shows 'loading', then 'done' or 'error' with the text to show
    const result = page.locator('#result');
    async function clickAndRead(button: string, previous: string | null): Promise<string | null> {
      await page.click(button);
      await page.waitForFunction((before) => {
        const output = document.querySelector('#result') as HTMLElement;
        return (output.dataset.state === 'done' || output.dataset.state === 'error') && output.textContent !== before;
      }, previous);
      const text = await result.textContent();
      assert.equal(await result.getAttribute('data-state'), 'done', text ?? '');
      return text;
    }

    const first = await clickAndRead('#hello', await result.textContent());
    assert.equal(first, 'Hello, demo! Greetings from the demo extension, running inside WebAssembly. (visit #1)');
    const second = await clickAndRead('#hello', first);
    assert.equal(second, 'Hello, demo! Greetings from the demo extension, running inside WebAssembly. (visit #2)', 'the visit count lives in storage');

    assert.equal(await clickAndRead('#clients', second), '3 clients found.');
    assert.deepEqual(await page.locator('#client-list li').allTextContents(), ['Acme Dental', 'Blue Harbor Law', 'zephyr Logistics']);

    assert.deepEqual(problems, []);
  });
});
