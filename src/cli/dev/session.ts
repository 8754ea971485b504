/**
 * `alga-runner dev`: build the project, run it on a local runner (local-runner.ts), and on every
 * saved change build again and swap the new build in; secrets from the project's local files; the
 * install's log lines on stdout, dev's own lines on stderr. A build that fails leaves the previous
 * one serving.
 */
import { existsSync, type FSWatcher } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildProject, BuildError, streamReporter, type BuildOptions } from '../build/index.js';
import { loadProject } from '../build/project.js';
import { LocalRunner, type LogLine } from './local-runner.js';
import { readLocalSecrets, SecretsFileError } from './local-secrets.js';
import { watchProject, type ChangeKind } from './watch.js';

export interface DevOptions extends BuildOptions {
  dir: string;
  port: number;
  tenant: string;
  allowHosts: string[];
}

export interface DevSession {
  url: string;
  close(): Promise<void>;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function logLine(line: LogLine): string {
  return `log: ${line.level.toUpperCase().padEnd(5)} ${line.stream === 'log' ? '' : `[${line.stream}] `}${line.message}\n`;
}

export async function startDev(options: DevOptions, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<DevSession> {
  // a project that cannot build at all (no manifest, no entry) is said before anything starts
  const project = loadProject(options.dir, options);
  const say = (line: string) => err.write(`dev: ${line}\n`);
  const runner = await LocalRunner.start({ projectDir: project.dir, port: options.port, tenant: options.tenant, allowHosts: options.allowHosts });
  say(`runner at ${runner.url} (tenant ${options.tenant}, demo clients and services; data in ${relative(process.cwd(), runner.dataDir) || '.'}; its log in runner.log there)`);

  let tailing: string | null = null;
  let printedAddresses = false;
  const reporter = streamReporter(err, 'dev: build: ');

  const applySecrets = async () => {
    try {
      const { values, files } = readLocalSecrets(project.dir);
      await runner.setSecrets(values);
      const names = Object.keys(values);
      if (files.length > 0) say(`secrets from ${files.join(' and ')}: ${names.length > 0 ? names.join(', ') : '(none)'}`);
    } catch (e) {
      if (!(e instanceof SecretsFileError)) throw e;
      say(`secrets not changed: ${e.message}`);
    }
  };

  const buildAndSwap = async (first: boolean) => {
    const started = performance.now();
    try {
      const built = await buildProject(project.dir, options, reporter);
      const t = performance.now();
      const deployed = await runner.deploy(built.project.manifestText, built.project.manifest, built.component, built.project.uiFiles);
      if (tailing !== deployed.installId) {
        await runner.tailLogs(deployed.installId, (line) => {
          // an empty stdout/stderr record (the guest printed a bare newline) has nothing to read
          if (line.stream !== 'log' && line.message === '') return;
          out.write(logLine(line));
        });
        tailing = deployed.installId;
      }
      await applySecrets();
      const timing = `build ${seconds(t - started)}, swap ${seconds(performance.now() - t)}`;
      say(`${first ? 'serving' : deployed.created ? 'reloaded' : 'unchanged'}: ${built.project.manifest.name} ${deployed.version} (${timing})`);
      if (!printedAddresses) {
        printedAddresses = true;
        const endpoints = built.project.manifest.api?.endpoints ?? [];
        const sample = endpoints.find((e) => e.method === 'GET' && !e.path.includes(':'))?.path ?? '/';
        say(`API: ${runner.url}/api/ext/${built.project.manifest.name}${sample}  (any route of manifest.json's api.endpoints)`);
        if (deployed.uiPath) say(`UI:  ${runner.url}/dev/ui  (follows each reload)`);
        say('watching the project: save a file to rebuild; Ctrl-C stops');
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      say(`${e instanceof BuildError ? 'build failed' : 'reload failed'}: ${message}`);
      say(
        runner.current
          ? `still serving ${runner.current.version}; fix it and save to try again`
          : 'no build of this run is serving yet (an install left by an earlier run keeps its build); fix it and save to try again',
      );
    }
  };

  // one build at a time; changes during a build make one more afterwards
  let running: Promise<void> | null = null;
  let pending = new Set<ChangeKind>();
  let pendingPaths = new Set<string>();
  const onChange = (kinds: Set<ChangeKind>, paths: string[]) => {
    for (const k of kinds) pending.add(k);
    for (const p of paths) pendingPaths.add(p);
    if (running) return;
    running = (async () => {
      while (pending.size > 0) {
        const now = pending;
        // editors' temporary files come and go within the burst: name what is there (or was removed for good)
        const shown = [...pendingPaths].filter((p) => existsSync(join(project.dir, p)));
        pending = new Set();
        pendingPaths = new Set();
        say(`changed: ${shown.length > 0 ? shown.join(', ') : '(files removed)'}`);
        if (now.has('build')) await buildAndSwap(false);
        else await applySecrets();
      }
    })().finally(() => {
      running = null;
    });
  };

  await buildAndSwap(true);
  const watcher: FSWatcher = watchProject(project.dir, onChange);
  return {
    url: runner.url,
    async close() {
      watcher.close();
      await running;
      await runner.close();
    },
  };
}
