/**
 * The first step of a build, so a wrong import or a type error fails in about a second, not at
 * componentize time: TypeScript over the entry and what it imports (not the project's tests),
 * against the SDK's declarations and the world's own (generated from its WIT by jco, so direct
 * `alga:extension/*` imports are checked too). The project's tsconfig.json gives the options.
 *
 * A project written for Alga's SDK (it imports `@alga-psa/extension-runtime`) was never type-checked
 * against the WIT by Alga's toolchain, and Alga's samples do not pass (`null` where the WIT says
 * `option`, i.e. `undefined`): for such a project, type errors are warnings, except the ones that
 * would break the component anyway — a module or an export that does not exist.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type ts from 'typescript';
import { packageVersion } from '../runner-root.js';
import type { Project } from './project.js';
import { ALGA_RUNTIME_PACKAGE, ALGA_RUNTIME_SUBPATH, SDK_PACKAGE, sdkFile, type SdkLocation } from './sdk.js';

type TypeScript = typeof ts;

export interface TypeCheckResult {
  errors: string[];
  warnings: string[];
  files: number;
}

/** Cannot find module, module has no exported member (and its "did you mean" forms): the component cannot work. */
const BROKEN_IMPORT_CODES = new Set([2305, 2306, 2307, 2614, 2724, 2792, 2834, 2835]);

/** Options for a project without tsconfig.json: what `alga-runner new` writes, and what Alga's samples need (`./handler.ts`). */
const DEFAULT_OPTIONS = {
  target: 'ES2022',
  module: 'ESNext',
  moduleResolution: 'Bundler',
  lib: ['ES2023', 'DOM'],
  types: [],
  strict: true,
  skipLibCheck: true,
};

/**
 * The world's guest declarations (`declare module 'alga:extension/…'`), written once per WIT text
 * and jco version under the project's .alga-runner/world-types/<world>/.
 */
async function worldDeclarations(project: Project): Promise<string[]> {
  const stamp = createHash('sha256')
    .update(`${packageVersion('@bytecodealliance/jco-transpile')}\n${project.witText}`)
    .digest('hex');
  const dir = join(project.dir, '.alga-runner', 'world-types', project.world);
  const stampFile = join(dir, '.stamp');
  const listFile = join(dir, '.files');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && existsSync(listFile)) {
    return readFileSync(listFile, 'utf8').split('\n').filter(Boolean);
  }
  const { $init, generateTypes } = await import('@bytecodealliance/jco-transpile/component');
  await $init;
  // the WIT goes in as text: jco's wasm tools cannot open host paths
  const generated = generateTypes('runner', { wit: { tag: 'source', val: project.witText }, world: 'runner', guest: true, features: { tag: 'list', val: [] } });
  rmSync(dir, { recursive: true, force: true });
  const files: string[] = [];
  for (const [path, bytes] of generated) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, bytes);
    // the interfaces' module declarations; runner.d.ts declares the world's export, not an importable module
    if (path.startsWith('interfaces/') && path.endsWith('.d.ts')) files.push(file);
  }
  writeFileSync(listFile, files.join('\n'));
  writeFileSync(stampFile, stamp);
  return files;
}

function compilerOptions(typescript: TypeScript, project: Project): { options: ts.CompilerOptions; declarationFiles: string[]; problems: readonly ts.Diagnostic[] } {
  if (project.tsconfig) {
    const parsed = typescript.getParsedCommandLineOfConfigFile(project.tsconfig, {}, { ...typescript.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
    if (parsed) return { options: parsed.options, declarationFiles: parsed.fileNames.filter((f) => f.endsWith('.d.ts')), problems: parsed.errors };
  }
  const converted = typescript.convertCompilerOptionsFromJson(DEFAULT_OPTIONS, project.dir);
  return { options: converted.options, declarationFiles: [], problems: converted.errors };
}

/** Each import of the SDK (and of Alga's runtime) maps to the SDK the bundle uses, whatever node_modules holds. */
function sdkPaths(sdk: SdkLocation): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const subpath of Object.keys(sdk.exports)) {
    const file = sdkFile(sdk, subpath, 'types');
    if (file) paths[subpath === '.' ? SDK_PACKAGE : `${SDK_PACKAGE}${subpath.slice(1)}`] = [file];
  }
  const runtime = sdkFile(sdk, ALGA_RUNTIME_SUBPATH, 'types');
  if (runtime) paths[ALGA_RUNTIME_PACKAGE] = [runtime];
  return paths;
}

function describe(typescript: TypeScript, project: Project, d: ts.Diagnostic): string {
  const message = typescript.flattenDiagnosticMessageText(d.messageText, '\n');
  if (!d.file || d.start === undefined) return `TS${d.code}: ${message}`;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  const file = relative(project.dir, d.file.fileName) || d.file.fileName;
  return `${file}:${line + 1}:${character + 1}: TS${d.code}: ${message}`;
}

/**
 * Parsed declaration files (TypeScript's libs — lib.dom.d.ts alone is ~1 MB —, the SDK's, the
 * world's) kept for the next check in this process, by path, modification time and target: under
 * `dev` a rebuild parses only the project's own sources again.
 */
const declarationCache = new Map<string, ts.SourceFile>();

function cachingHost(typescript: TypeScript, options: ts.CompilerOptions): ts.CompilerHost {
  const host = typescript.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    if (!fileName.endsWith('.d.ts')) return read(fileName, languageVersion, onError, shouldCreate);
    let mtime: number;
    try {
      mtime = statSync(fileName).mtimeMs;
    } catch {
      return read(fileName, languageVersion, onError, shouldCreate);
    }
    const target = typeof languageVersion === 'object' ? languageVersion.languageVersion : languageVersion;
    const key = `${fileName}\0${mtime}\0${target}`;
    const cached = declarationCache.get(key);
    if (cached) return cached;
    const parsed = read(fileName, languageVersion, onError, shouldCreate);
    if (parsed) declarationCache.set(key, parsed);
    return parsed;
  };
  return host;
}

export async function typeCheck(project: Project, sdk: SdkLocation): Promise<TypeCheckResult> {
  const typescript = (await import('typescript')).default;
  const declarations = await worldDeclarations(project);
  const { options: projectOptions, declarationFiles, problems } = compilerOptions(typescript, project);
  const options: ts.CompilerOptions = {
    ...projectOptions,
    // the build emits nothing of TypeScript's (esbuild bundles), so `./handler.ts` imports are fine
    noEmit: true,
    allowImportingTsExtensions: true,
    paths: { ...projectOptions.paths, ...sdkPaths(sdk) },
  };
  const program = typescript.createProgram([project.entry, ...declarationFiles, ...declarations], options, cachingHost(typescript, options));
  const diagnostics = [...problems, ...typescript.getPreEmitDiagnostics(program)].filter((d) => d.category === typescript.DiagnosticCategory.Error);
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const d of diagnostics) {
    const lenient = project.algaRuntime && !BROKEN_IMPORT_CODES.has(d.code);
    (lenient ? warnings : errors).push(describe(typescript, project, d));
  }
  const files = program.getSourceFiles().filter((f) => !f.fileName.includes('/node_modules/typescript/lib/')).length;
  return { errors, warnings, files };
}
