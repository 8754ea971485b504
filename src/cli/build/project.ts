/**
 * An extension project as `alga-runner build` sees it: manifest.json (checked as the runner checks
 * a bundle's), the entry (src/index.ts), the world it is built for, its tsconfig.json and ui/.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { formatManifestProblems, parseManifestJson, type Manifest, type ManifestProblem } from '../../bundle/index.js';
import { WORLDS, worldWitPath, type World } from '../runner-root.js';
import { BuildError } from './errors.js';

export interface ProjectOptions {
  /** the entry module, relative to the project (default src/index.ts) */
  entry?: string;
  /** the WIT dialect; default: `alga` when the sources use Alga's @alga-psa/extension-runtime, else `seed` */
  world?: string;
}

export interface Project {
  dir: string;
  manifestText: string;
  manifest: Manifest;
  manifestWarnings: readonly ManifestProblem[];
  /** absolute path of the entry module */
  entry: string;
  /** every file under the entry's source folder (src/), sorted: what the cache key reads */
  sources: string[];
  world: World;
  /** how the world was chosen, for the report */
  worldReason: string;
  witText: string;
  /** tsconfig.json when the project has one */
  tsconfig: string | null;
  /** ui/ files (absolute paths) when the manifest declares a UI or ui/ exists */
  uiFiles: string[];
  /** sources import Alga's SDK (`@alga-psa/extension-runtime`): written for Alga's toolchain */
  algaRuntime: boolean;
}

export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

const ALGA_RUNTIME_IMPORT = /from\s+['"]@alga-psa\/extension-runtime['"]|import\s+['"]@alga-psa\/extension-runtime['"]/;

export function loadProject(dirArg: string, options: ProjectOptions = {}): Project {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BuildError('no_project', `${dir} is not a directory`);
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) throw new BuildError('no_manifest', `no manifest.json in ${dir}: run the build in an extension project (\`alga-runner new <name>\` makes one)`);
  const manifestText = readFileSync(manifestPath, 'utf8');
  const parsed = parseManifestJson(manifestText);
  if (parsed.kind === 'err') throw new BuildError('invalid_manifest', `manifest.json is not valid (docs/manifest.md):\n${formatManifestProblems(parsed.problems)}`);

  const entryRel = options.entry ?? join('src', 'index.ts');
  const entry = resolve(dir, entryRel);
  if (!existsSync(entry)) throw new BuildError('no_entry', `no entry module ${relative(dir, entry)} in ${dir}: it exports the component's handler (\`export const handler = app.handler\`)`);
  const sourceDir = resolve(entry, '..');
  const sources = filesUnder(sourceDir);
  const algaRuntime = sources.some((f) => /\.[cm]?[jt]sx?$/.test(f) && ALGA_RUNTIME_IMPORT.test(readFileSync(f, 'utf8')));

  let world: World;
  let worldReason: string;
  if (options.world !== undefined) {
    if (!(WORLDS as readonly string[]).includes(options.world)) throw new BuildError('unknown_world', `no world '${options.world}': choose one of ${WORLDS.join(', ')}`);
    world = options.world as World;
    worldReason = '--world';
  } else {
    world = algaRuntime ? 'alga' : 'seed';
    worldReason = algaRuntime ? "the sources use Alga's @alga-psa/extension-runtime" : 'the default';
  }

  const uiDir = join(dir, 'ui');
  const uiFiles = filesUnder(uiDir);
  const uiEntry = parsed.manifest.ui?.entry;
  if (uiEntry !== undefined && !existsSync(join(dir, uiEntry)))
    throw new BuildError('ui_missing', `manifest.json's ui.entry is ${uiEntry}, which is not in ${dir}: \`alga-runner pack\` packs ui/ as it is (build your page into ui/ first)`);

  const tsconfigPath = join(dir, 'tsconfig.json');
  return {
    dir,
    manifestText,
    manifest: parsed.manifest,
    manifestWarnings: parsed.warnings,
    entry,
    sources,
    world,
    worldReason,
    witText: readFileSync(worldWitPath(world), 'utf8'),
    tsconfig: existsSync(tsconfigPath) ? tsconfigPath : null,
    uiFiles,
    algaRuntime,
  };
}
