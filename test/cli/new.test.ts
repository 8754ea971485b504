/**
 * `alga-runner new`: each template makes a project that `alga-runner build` builds (one template
 * per world) and whose own test passes against the built component; bad input gets one clear message.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli-process.js';
import { packBundleDirectory } from '../../src/bundle/index.js';

const root = join(import.meta.dirname, '..', '..', '..');
const cli = join(root, 'bin', 'alga-runner.js');
const work = mkdtempSync(join(tmpdir(), 'alga-runner-new-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The project's own `npm test`, as its author runs it (not as a subtest of this run: no NODE_TEST_CONTEXT). */
function projectTest(dir: string) {
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  // the files its script names (`node --test test/*.test.mjs`, the shell expanding the pattern)
  const files = readdirSync(join(dir, 'test'))
    .filter((f) => f.endsWith('.test.mjs'))
    .map((f) => join('test', f));
  return spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...files], { cwd: dir, encoding: 'utf8', env });
}

function alga(args: string[], cwd = work) {
  return spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8' });
}

type World = 'seed' | 'alga';

/** `alga-runner build --world <world>` in the project; returns the component's size in bytes. */
async function build(dir: string, world: World): Promise<number> {
  const built = await runCli(['build', '--world', world], dir);
  assert.equal(built.code, 0, built.stderr);
  return readFileSync(join(dir, 'dist', 'main.wasm')).byteLength;
}

const cases: { template: 'api' | 'ui'; world: World }[] = [
  { template: 'api', world: 'alga' },
  { template: 'ui', world: 'seed' },
];

for (const { template, world } of cases) {
  describe(`alga-runner new --template ${template}`, () => {
    const name = `notes-${template}`;
    const dir = join(work, name);

    it('writes the project and links the SDK', () => {
      const made = alga(['new', name, '--template', template]);
      assert.equal(made.status, 0, made.stderr);
      assert.match(made.stderr, new RegExp(`created ${name}`));
      for (const file of ['src/index.ts', 'manifest.json', 'package.json', 'tsconfig.json', 'README.md', '.gitignore', 'test/notes.test.mjs']) assert.ok(existsSync(join(dir, file)), file);
      assert.equal(existsSync(join(dir, 'ui', 'index.html')), template === 'ui');
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { name: string; ui?: unknown };
      assert.equal(manifest.name, `com.example.${name}`);
      assert.equal(manifest.ui !== undefined, template === 'ui');
      assert.equal(readlinkSync(join(dir, 'node_modules', '@alga-runner', 'sdk')), join(root, 'packages', 'sdk'));
      assert.ok(!readFileSync(join(dir, 'src', 'index.ts'), 'utf8').includes('__NAME__'));
    });

    it(`builds (world ${world}) and its own test passes on the component`, async () => {
      const bytes = await build(dir, world);
      assert.ok(bytes > 0);
      const tested = projectTest(dir);
      assert.equal(tested.status, 0, `${tested.stdout}\n${tested.stderr}`);
      // node's test runner reports TAP (`# pass 3`) or, on Node 24 under npm, its spec reporter (`ℹ pass 3`)
      assert.match(tested.stdout, /^(#|ℹ) pass 3$/m);
      assert.match(tested.stdout, /^(#|ℹ) fail 0$/m);
    });

    it('packs into a bundle', async () => {
      const packed = await packBundleDirectory(dir);
      assert.equal(packed.kind, 'ok', packed.kind === 'err' ? packed.error.message : '');
    });

    // once is enough (a componentize run is ~20 s): the api template
    if (template === 'api') {
      it("the project's test fails when the component misbehaves", async () => {
        // the template's test is not vacuous: a handler that forgets the note makes it fail
        const source = join(dir, 'src', 'index.ts');
        writeFileSync(source, readFileSync(source, 'utf8').replace("storage.putJson<Note>('notes', id,", "storage.putJson<Note>('elsewhere', id,"));
        await build(dir, world);
        const tested = projectTest(dir);
        assert.notEqual(tested.status, 0);
        assert.match(tested.stdout, /# fail 1/);
      });
    }
  });
}

describe('alga-runner new refuses bad input', () => {
  it('a bad name, an unknown template, a directory in use', () => {
    const badName = alga(['new', 'Bad_Name']);
    assert.equal(badName.status, 1);
    assert.match(badName.stderr, /'Bad_Name' is not a project name/);
    const badTemplate = alga(['new', 'x', '--template', 'cli']);
    assert.notEqual(badTemplate.status, 0);
    assert.match(badTemplate.stderr, /Allowed choices are api, ui/);
    mkdirSync(join(work, 'taken'));
    writeFileSync(join(work, 'taken', 'file'), '');
    const taken = alga(['new', 'taken']);
    assert.equal(taken.status, 1);
    assert.match(taken.stderr, /already exists and is not an empty directory/);
  });

  it('--no-link leaves node_modules alone', () => {
    const made = alga(['new', 'unlinked', '--no-link']);
    assert.equal(made.status, 0, made.stderr);
    assert.ok(!existsSync(join(work, 'unlinked', 'node_modules')));
    assert.match(made.stderr, /run npm install/);
  });
});
