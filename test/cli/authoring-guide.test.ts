/**
 * docs/authoring.md, "Your first extension in ten minutes", run as written on an empty directory:
 * new → build → npm test → dev (one edit-reload cycle) → pack → serve + publish + install → call.
 * Each command is first found verbatim in the guide (placeholders such as `<admin token>` and the
 * fixed ports are then filled in), so the guide cannot drift from what is tested.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runCli, runProcess, startCli, type RunningCli } from '../support/cli-process.js';

const guide = readFileSync(join(repoRoot, 'docs', 'authoring.md'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'alga-runner-guide-'));
const project = join(work, 'ticket-notes');
const running: RunningCli[] = [];
after(async () => {
  await Promise.all(running.map((p) => p.stop()));
  rmSync(work, { recursive: true, force: true });
});

/** The guide's command line, as it is written there; returns its arguments after `alga-runner`. */
function fromGuide(command: string): string[] {
  assert.ok(guide.includes(command), `docs/authoring.md no longer says: ${command}`);
  return command.split(' ').slice(1);
}

// one sequence: each step needs the one before
describe('docs/authoring.md, first extension', { concurrency: 1, timeout: 300_000 }, () => {
  it('1. alga-runner new ticket-notes --template ui', async () => {
    const made = await runCli(fromGuide('alga-runner new ticket-notes --template ui'), work);
    assert.equal(made.code, 0, made.stderr);
    for (const file of ['src/index.ts', 'manifest.json', 'ui/index.html', 'test/notes.test.mjs', 'tsconfig.json', 'package.json', 'README.md', '.gitignore'])
      assert.ok(existsSync(join(project, file)), file);
    assert.ok(guide.includes('cd ticket-notes'));
  });

  it('2. alga-runner build', async () => {
    const built = await runCli(fromGuide('alga-runner build'), project);
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stderr, /type check passed/);
    assert.match(built.stderr, /dist\/main\.wasm: [\d.]+ MB/);
  });

  it('3. npm test', async () => {
    assert.ok(guide.includes('\nnpm test\n'));
    const tested = await runProcess('npm', ['test'], project);
    assert.equal(tested.code, 0, `${tested.stdout}\n${tested.stderr}`);
    // node's test runner reports TAP (`# pass 3`) or, on Node 24 under npm, its spec reporter (`ℹ pass 3`)
    assert.match(tested.stdout, /^(#|ℹ) pass 3$/m);
    assert.match(tested.stdout, /^(#|ℹ) fail 0$/m);
  });

  it('4. alga-runner dev: answers, logs, reloads an edit', async () => {
    fromGuide('alga-runner dev');
    // port 0: the guide's 8787 may be taken on a test machine
    const dev = startCli(['dev', '--port', '0'], project);
    running.push(dev);
    const [, url] = await dev.waitFor('stderr', /dev: runner at (http:\/\/127\.0\.0\.1:\d+)/);
    await dev.waitFor('stderr', /dev: UI: {2}http:\/\/127\.0\.0\.1:\d+\/dev\/ui/);
    const api = `${url}/api/ext/com.example.ticket-notes`;
    assert.ok(guide.includes('curl -s http://127.0.0.1:8787/api/ext/com.example.ticket-notes/hello'));
    assert.deepEqual(await (await fetch(`${api}/hello`)).json(), { message: 'Hello, demo, from ticket-notes!' });

    assert.ok(guide.includes(`-d '{"text": "Call the customer back"}'`));
    const created = await fetch(`${api}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'Call the customer back' }) });
    assert.equal(created.status, 201);
    await dev.waitFor('stdout', /log: INFO {2}note 1 created/);

    assert.ok(guide.includes('(`Hello, ${ctx.tenantId}` → `Welcome, ${ctx.tenantId}`)'));
    const source = join(project, 'src', 'index.ts');
    const before = dev.stderr.length;
    writeFileSync(source, readFileSync(source, 'utf8').replace('Hello, ${ctx.tenantId}', 'Welcome, ${ctx.tenantId}'));
    await dev.waitFor('stderr', /dev: reloaded: com\.example\.ticket-notes/, before);
    assert.deepEqual(await (await fetch(`${api}/hello`)).json(), { message: 'Welcome, demo, from ticket-notes!' });
    const notes = (await (await fetch(`${api}/notes`)).json()) as { notes: { text: string }[] };
    assert.deepEqual(
      notes.notes.map((n) => n.text),
      ['Call the customer back'],
    );
    assert.equal(await dev.stop(), 0);
  });

  it('5. alga-runner pack .', async () => {
    const packed = await runCli(fromGuide('alga-runner pack .'), project);
    assert.equal(packed.code, 0, packed.stderr);
    assert.match(packed.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.ok(existsSync(join(project, 'bundle.tar.zst')));
  });

  it('6. alga-runner serve, publish, installs create, and the extension answers there', async () => {
    const serveArgs = fromGuide('alga-runner serve --port 8080 --data-dir ../runner-data');
    const serve = startCli(
      serveArgs.map((a) => (a === '8080' ? '0' : a)),
      project,
    );
    running.push(serve);
    const [, url] = await serve.waitFor('stderr', /alga-runner listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const [, token] = await serve.waitFor('stderr', /admin token: +(\S+)/);
    const target = (args: string[]) => args.map((a) => (a === 'http://127.0.0.1:8080' ? url! : a === '<admin' ? token! : a)).filter((a) => a !== 'token>');

    const published = await runCli(target(fromGuide('alga-runner publish bundle.tar.zst --url http://127.0.0.1:8080 --token <admin token>')), project);
    assert.equal(published.code, 0, published.stderr);
    const ids = JSON.parse(published.stdout) as { extension_id: string; version_id: string; content_hash: string };
    assert.match(ids.content_hash, /^sha256:/);

    const installed = await runCli(target(fromGuide('alga-runner installs create --tenant acme --extension com.example.ticket-notes --url http://127.0.0.1:8080 --token <admin token>')), project);
    assert.equal(installed.code, 0, installed.stderr);

    assert.ok(guide.includes("curl -s http://127.0.0.1:8080/api/ext/com.example.ticket-notes/hello -H 'x-alga-tenant: acme'"));
    const hello = await fetch(`${url}/api/ext/com.example.ticket-notes/hello`, { headers: { 'x-alga-tenant': 'acme' } });
    assert.equal(hello.status, 200);
    assert.deepEqual(await hello.json(), { message: 'Welcome, acme, from ticket-notes!' });
  });
});
