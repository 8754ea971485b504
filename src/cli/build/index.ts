/**
 * `alga-runner build`: manifest and entry checked → bundle (esbuild) → type check (TypeScript,
 * skipped when these sources passed it before) → componentize (componentize-js in a child
 * process, skipped when the cache holds the component) → dist/main.wasm, with a size report.
 * Bundling first costs ~0.1 s and gives the cache its key; nothing slow runs before the type check.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatManifestProblems } from '../../bundle/index.js';
import { packageVersion } from '../runner-root.js';
import { bundle } from './bundle.js';
import { BuildCache, sha256, writeAtomically } from './cache.js';
import { componentize, DISABLED_FEATURES } from './componentize.js';
import { BuildError } from './errors.js';
import { loadProject, type Project, type ProjectOptions } from './project.js';
import type { BuildReporter } from './reporter.js';
import { locateSdk } from './sdk.js';
import { typeCheck, type TypeCheckResult } from './type-check.js';

export { BuildError, type BuildErrorCode } from './errors.js';
export { streamReporter, type BuildReporter } from './reporter.js';

/** Bumped when the way components are built changes (so cached ones built the old way are not reused). */
const BUILD_FORMAT = 'alga-runner-build/1';

export interface BuildOptions extends ProjectOptions {
  /** the component to write, relative to the project (default dist/main.wasm) */
  out?: string;
}

export interface BuildResult {
  project: Project;
  outPath: string;
  component: Uint8Array;
  /** the component came from the cache (no componentize) */
  cached: boolean;
  /** the type check ran (false: these sources passed it before) */
  typeChecked: boolean;
  warnings: string[];
  /** sha256 of everything that shapes the component */
  componentKey: string;
  bundleBytes: number;
  ms: { bundle: number; typeCheck: number; componentize: number; total: number };
}

let toolVersions: string[] | undefined;
function tools(): string[] {
  toolVersions ??= ['@bytecodealliance/componentize-js', 'esbuild', 'typescript', '@bytecodealliance/jco-transpile'].map((name) => `${name}@${packageVersion(name)}`);
  return toolVersions;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const since = (t: number) => Math.round(performance.now() - t);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Throws the type check's errors as one message, if it has any. */
function typeErrors(checked: TypeCheckResult, project: Project): void {
  if (checked.errors.length === 0) return;
  const hint = checked.errors.some((e) => e.includes("'alga:extension/")) && project.world === 'seed' ? "\n(built for the seed world; a component for Alga's dialect: --world alga)" : '';
  throw new BuildError(
    'type_error',
    `type check failed (${checked.errors.length} error${checked.errors.length === 1 ? '' : 's'}), nothing was componentized:\n${checked.errors.map((e) => `  ${e}`).join('\n')}${hint}`,
  );
}

export async function buildProject(dir: string, options: BuildOptions, reporter: BuildReporter): Promise<BuildResult> {
  const started = performance.now();
  const project = loadProject(dir, options);
  const outPath = resolve(project.dir, options.out ?? 'dist/main.wasm');
  const rel = (path: string) => relative(process.cwd(), path) || '.';
  if (project.manifestWarnings.length > 0) reporter.warn(`manifest.json keys the runner ignores:\n${formatManifestProblems(project.manifestWarnings)}`);
  const sdk = locateSdk(project.dir);

  let t = performance.now();
  const bundled = await bundle(project, sdk).catch(async (e: unknown) => {
    // a bundle that fails on the sources (an import esbuild cannot resolve) is said as the type check says it, when it can
    if (e instanceof BuildError && e.code === 'bundle_error') typeErrors(await typeCheck(project, sdk), project);
    throw e;
  });
  const bundleMs = since(t);
  const componentKey = sha256([BUILD_FORMAT, ...tools(), project.world, project.witText, JSON.stringify(DISABLED_FEATURES), bundled.code]);
  const sourcesKey = sha256([componentKey, ...project.sources.flatMap((f) => [relative(project.dir, f), readFileSync(f)]), project.tsconfig ? readFileSync(project.tsconfig) : '']);
  const cache = new BuildCache(project.dir);

  // type check unless these very sources passed it with this very bundle
  const warnings: string[] = [];
  let typeCheckMs = 0;
  const typeChecked = !cache.wasChecked(sourcesKey);
  if (typeChecked) {
    t = performance.now();
    const checked = await typeCheck(project, sdk);
    typeCheckMs = since(t);
    if (checked.warnings.length > 0)
      reporter.warn(
        `${checked.warnings.length} type error${checked.warnings.length === 1 ? '' : 's'} taken as warnings (the sources are written for Alga's @alga-psa/extension-runtime, whose toolchain does not type-check):\n${checked.warnings.map((w) => `  ${w}`).join('\n')}`,
      );
    warnings.push(...checked.warnings);
    typeErrors(checked, project);
    cache.markChecked(sourcesKey);
    reporter.info(`type check passed${checked.warnings.length > 0 ? ' with warnings' : ''}: ${checked.files} files in ${seconds(typeCheckMs)}`);
  }
  reporter.info(`bundled ${relative(project.dir, project.entry)} for the ${project.world} world (${project.worldReason}): ${size(Buffer.byteLength(bundled.code))} of JavaScript`);

  let componentizeMs = 0;
  let component = cache.component(componentKey);
  const cached = component !== null;
  if (component === null) {
    t = performance.now();
    component = await componentize(project, bundled.code, reporter);
    componentizeMs = since(t);
    cache.storeComponent(componentKey, component);
  }
  mkdirSync(dirname(outPath), { recursive: true });
  const same = existsSync(outPath) && statSync(outPath).size === component.byteLength && readFileSync(outPath).equals(component);
  if (!same) writeAtomically(outPath, component);

  const total = since(started);
  reporter.info(`${rel(outPath)}: ${size(component.byteLength)}${cached ? ' (unchanged sources: from the build cache)' : ` (componentized in ${seconds(componentizeMs)})`}`);
  if (project.uiFiles.length > 0) {
    const uiBytes = project.uiFiles.reduce((sum, f) => sum + statSync(f).size, 0);
    reporter.info(`ui/: ${project.uiFiles.length} file${project.uiFiles.length === 1 ? '' : 's'}, ${size(uiBytes)} (\`alga-runner pack\` puts them in the bundle)`);
  }
  reporter.info(`done in ${seconds(total)}`);
  return {
    project,
    outPath,
    component,
    cached,
    typeChecked,
    warnings,
    componentKey,
    bundleBytes: Buffer.byteLength(bundled.code),
    ms: { bundle: bundleMs, typeCheck: typeCheckMs, componentize: componentizeMs, total },
  };
}
