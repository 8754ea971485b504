/**
 * `alga-runner new <name>`: a working extension project from the templates in templates/ (their
 * README says how they are laid out). The project's SDK is the one this runner ships
 * (packages/sdk): linked into the project's node_modules so it builds and tests straight away,
 * and named in its package.json (`file:`) so `npm install` keeps that link.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parseManifest, formatManifestProblems } from '../bundle/index.js';
import { runnerRoot } from './runner-root.js';

export const TEMPLATES = ['api', 'ui'] as const;
export type TemplateName = (typeof TEMPLATES)[number];

/** A name that is at once a directory, an npm package name and the last label of the manifest's name. */
const PROJECT_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

export class NewProjectError extends Error {}

export interface NewProjectOptions {
  template: TemplateName;
  /** directory the project goes in (default ./<name>) */
  dir?: string;
  /** link node_modules/@alga-runner/sdk to this runner's SDK (default true) */
  link?: boolean;
}

export interface NewProject {
  dir: string;
  files: string[];
  sdkDir: string;
  linked: boolean;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

function manifestFor(name: string, template: TemplateName): Record<string, unknown> {
  const endpoint = (method: string, path: string) => ({ method, path, handler: 'dist/main' });
  return {
    name: `com.example.${name}`,
    publisher: 'Example',
    version: '0.1.0',
    description: `${name}: notes kept in the install's storage${template === 'ui' ? ', with a page' : ''}.`,
    runtime: 'wasm-js@1',
    capabilities: ['cap:context.read', 'cap:log.emit', 'cap:storage.kv'],
    ...(template === 'ui' ? { ui: { type: 'iframe', entry: 'ui/index.html' } } : {}),
    api: {
      endpoints: [endpoint('GET', '/hello'), endpoint('GET', '/notes'), endpoint('POST', '/notes'), endpoint('GET', '/notes/:id'), endpoint('DELETE', '/notes/:id')],
    },
  };
}

function packageJsonFor(name: string, sdkDir: string, sdkVersion: string): Record<string, unknown> {
  return {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: { build: 'alga-runner build', test: 'node --test test/*.test.mjs', dev: 'alga-runner dev' },
    devDependencies: { '@alga-runner/sdk': `file:${sdkDir}` },
    // which SDK version the project was made with (the `file:` link above follows the runner)
    'x-alga-runner-sdk': sdkVersion,
  };
}

/** Writes the project; refuses a bad name, an unknown template or a directory that is not empty. */
export async function createProject(name: string, options: NewProjectOptions): Promise<NewProject> {
  if (!PROJECT_NAME.test(name) || name.length > 100)
    throw new NewProjectError(`'${name}' is not a project name: use lowercase letters, digits and single hyphens, starting with a letter (e.g. ticket-notes)`);
  if (!(TEMPLATES as readonly string[]).includes(options.template)) throw new NewProjectError(`no template '${options.template}': choose one of ${TEMPLATES.join(', ')}`);
  const dir = resolve(options.dir ?? name);
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) throw new NewProjectError(`${dir} already exists and is not an empty directory`);

  const root = runnerRoot();
  const sdkDir = join(root, 'packages', 'sdk');
  const sdkVersion = (JSON.parse(await readFile(join(sdkDir, 'package.json'), 'utf8')) as { version: string }).version;
  const manifest = manifestFor(name, options.template);
  // the template must make a manifest the runner accepts: a broken template is a bug, said plainly
  const checked = parseManifest(manifest);
  if (checked.kind === 'err') throw new Error(`template manifest is invalid:\n${formatManifestProblems(checked.problems)}`);

  const written: string[] = [];
  const write = async (path: string, text: string) => {
    const target = join(dir, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
    written.push(path);
  };
  for (const layer of ['common', options.template]) {
    const from = join(root, 'templates', layer);
    if (!existsSync(from)) continue;
    for (const file of await filesUnder(from)) {
      const path = relative(from, file).replace(/(^|[\\/])gitignore$/, '$1.gitignore');
      await write(path, (await readFile(file, 'utf8')).replaceAll('__NAME__', name));
    }
  }
  await write('manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
  await write('package.json', `${JSON.stringify(packageJsonFor(name, sdkDir, sdkVersion), null, 2)}\n`);

  const link = options.link ?? true;
  if (link) {
    const target = join(dir, 'node_modules', '@alga-runner', 'sdk');
    await mkdir(dirname(target), { recursive: true });
    // a junction on Windows needs no privilege; elsewhere the type is ignored
    await symlink(sdkDir, target, 'junction');
  }
  return { dir, files: written.sort(), sdkDir, linked: link };
}
