/**
 * `alga-runner installs create|list|show|patch|delete`: the admin API's installs
 * (`/admin/v1/installs`), with the body built from flags (or read from a JSON file).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { adminCall, seg } from '../admin/client.js';
import { CliFailure } from '../admin/failure.js';
import { fields, printJson, table, targetOptions, type CommonFlags } from '../admin/output.js';
import { resolveTarget } from '../admin/profile.js';

interface InstallJson {
  install_id: string;
  tenant_id: string;
  extension_id: string;
  version_id: string;
  grants: string[];
  config: Record<string, string>;
  egress: { allow: string[] };
  ui_proxy: { base_url: string } | null;
  limits: { timeout_ms?: number; memory_mb?: number };
  instance: string;
  enabled: boolean;
  created_at: string;
  updated_at: string;
  secrets?: string[];
}

interface BodyFlags {
  body?: string;
  version?: string;
  grant?: string[];
  config?: string[];
  egress?: string[];
  uiProxy?: string;
  timeoutMs?: string;
  memoryMb?: string;
  instance?: string;
  enabled?: boolean;
}

const BODY_HELP = `
The install body (README "HTTP API", docs/openapi.json) is made from the flags, over --body FILE when given:
  tenant_id, extension_id (an id or a name), install_id (optional, chosen id), version_id (default: the latest),
  grants (default: the manifest's capabilities), config {key: value}, egress {allow: [host patterns]},
  ui_proxy {base_url} or null, limits {timeout_ms, memory_mb}, instance fresh|reuse, enabled.`;

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)];
const repeat = (value: string, previous: string[] = []) => [...previous, value];

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new CliFailure(`${name} must be a positive integer, not ${value}`);
  return n;
}

async function bodyFrom(flags: BodyFlags): Promise<Record<string, unknown>> {
  let body: Record<string, unknown> = {};
  if (flags.body) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(flags.body, 'utf8'));
    } catch (e) {
      throw new CliFailure(`--body ${flags.body}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliFailure(`--body ${flags.body}: must be a JSON object`);
    body = parsed as Record<string, unknown>;
  }
  if (flags.version !== undefined) body.version_id = flags.version;
  if (flags.grant !== undefined) body.grants = flags.grant;
  if (flags.config !== undefined) {
    const config: Record<string, string> = {};
    for (const pair of flags.config) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new CliFailure(`--config ${pair}: expected key=value`);
      config[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    body.config = config;
  }
  if (flags.egress !== undefined) body.egress = { allow: flags.egress };
  if (flags.uiProxy !== undefined) body.ui_proxy = flags.uiProxy === 'none' ? null : { base_url: flags.uiProxy };
  const timeout = positiveInt('--timeout-ms', flags.timeoutMs);
  const memory = positiveInt('--memory-mb', flags.memoryMb);
  if (timeout !== undefined || memory !== undefined) body.limits = { ...(timeout !== undefined && { timeout_ms: timeout }), ...(memory !== undefined && { memory_mb: memory }) };
  if (flags.instance !== undefined) body.instance = flags.instance;
  if (flags.enabled !== undefined) body.enabled = flags.enabled;
  return body;
}

function bodyOptions(command: Command): Command {
  return command
    .option('--body <file>', 'a JSON file with the body; the flags below override its fields')
    .option('--version <version_id>', 'extension version id')
    .option('--grant <caps>', 'granted capability (repeat, or comma-separated), e.g. cap:storage.kv', collect)
    .option('--config <key=value>', 'config entry (repeat); replaces the whole config', repeat)
    .option('--egress <host>', 'allowed outbound host pattern (repeat), e.g. api.example.com or *.example.com', repeat)
    .option('--ui-proxy <url>', "base URL for cap:ui.proxy ('none' to clear)")
    .option('--timeout-ms <ms>', 'execution deadline')
    .option('--memory-mb <mb>', 'guest memory limit')
    .option('--instance <mode>', 'fresh (default) or reuse');
}

function installRows(installs: readonly InstallJson[]): string {
  return table(
    ['INSTALL', 'TENANT', 'EXTENSION', 'VERSION', 'ENABLED', 'GRANTS'],
    installs.map((i) => [i.install_id, i.tenant_id, i.extension_id, i.version_id, i.enabled ? 'yes' : 'no', i.grants.join(',')]),
  );
}

function installFields(i: InstallJson): string {
  const limits = Object.entries(i.limits)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  return fields([
    ['install', i.install_id],
    ['tenant', i.tenant_id],
    ['extension', i.extension_id],
    ['version', i.version_id],
    ['enabled', i.enabled ? 'yes' : 'no'],
    ['instance', i.instance],
    ['grants', i.grants.join(', ') || '-'],
    [
      'config',
      Object.keys(i.config).length
        ? Object.entries(i.config)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
        : '-',
    ],
    ['egress', i.egress.allow.join(', ') || '-'],
    ['ui proxy', i.ui_proxy?.base_url ?? '-'],
    ['limits', limits || '-'],
    ...(i.secrets ? ([['secrets', i.secrets.join(', ') || '-']] as const) : []),
    ['created', i.created_at],
    ['updated', i.updated_at],
  ]);
}

export function registerInstallsCommand(program: Command): void {
  const installs = program.command('installs').description('create, list, show, change and remove installs (the admin API)');

  bodyOptions(
    targetOptions(
      installs
        .command('create')
        .description('install an extension for a tenant (POST /admin/v1/installs); prints the install id')
        .option('--tenant <tenant_id>', 'tenant')
        .option('--extension <id or name>', 'extension')
        .option('--install-id <id>', 'a chosen install id (the same create again is then answered as before)'),
    ),
  )
    .option('--disabled', 'create it disabled (not warmed, not run)')
    .addHelpText('after', BODY_HELP)
    .action(async (options: CommonFlags & BodyFlags & { tenant?: string; extension?: string; installId?: string; disabled?: boolean }) => {
      const target = await resolveTarget(options);
      const body = await bodyFrom({ ...options, enabled: options.disabled ? false : undefined });
      if (options.tenant !== undefined) body.tenant_id = options.tenant;
      if (options.extension !== undefined) body.extension_id = options.extension;
      if (options.installId !== undefined) body.install_id = options.installId;
      if (body.tenant_id === undefined || body.extension_id === undefined) throw new CliFailure('--tenant and --extension are needed (or tenant_id and extension_id in --body)');
      const created = await adminCall<{ install_id: string }>(target, 'POST', '/admin/v1/installs', { body });
      if (options.json) return printJson(created);
      process.stdout.write(`${created.install_id}\n`);
    });

  targetOptions(installs.command('list').description('installs, optionally of one tenant or extension (GET /admin/v1/installs)'))
    .option('--tenant <tenant_id>', 'only this tenant')
    .option('--extension <extension_id>', 'only this extension')
    .action(async (options: CommonFlags & { tenant?: string; extension?: string }) => {
      const target = await resolveTarget(options);
      const query = new URLSearchParams();
      if (options.tenant) query.set('tenant_id', options.tenant);
      if (options.extension) query.set('extension_id', options.extension);
      const listed = await adminCall<{ installs: InstallJson[] }>(target, 'GET', `/admin/v1/installs${query.size ? `?${query}` : ''}`);
      if (options.json) return printJson(listed);
      process.stdout.write(installRows(listed.installs));
    });

  targetOptions(installs.command('show').description('one install, with the names of its secrets (GET /admin/v1/installs/{id})'))
    .argument('<install>', 'install id')
    .action(async (id: string, options: CommonFlags) => {
      const target = await resolveTarget(options);
      const install = await adminCall<InstallJson>(target, 'GET', `/admin/v1/installs/${seg(id)}`);
      if (options.json) return printJson(install);
      process.stdout.write(installFields(install));
    });

  bodyOptions(targetOptions(installs.command('patch').description('change an install: only the fields given change (PATCH /admin/v1/installs/{id})')))
    .argument('<install>', 'install id')
    .option('--enable', 'enable it')
    .option('--disable', 'disable it')
    .addHelpText('after', BODY_HELP)
    .action(async (id: string, options: CommonFlags & BodyFlags & { enable?: boolean; disable?: boolean }) => {
      if (options.enable && options.disable) throw new CliFailure('--enable and --disable exclude each other');
      const target = await resolveTarget(options);
      const body = await bodyFrom({ ...options, enabled: options.enable ? true : options.disable ? false : undefined });
      if (Object.keys(body).length === 0) throw new CliFailure('nothing to change: give a flag or --body');
      const updated = await adminCall<InstallJson>(target, 'PATCH', `/admin/v1/installs/${seg(id)}`, { body });
      if (options.json) return printJson(updated);
      process.stdout.write(installFields(updated));
    });

  targetOptions(installs.command('delete').description('remove an install (DELETE /admin/v1/installs/{id})'))
    .argument('<install>', 'install id')
    .action(async (id: string, options: CommonFlags) => {
      const target = await resolveTarget(options);
      await adminCall(target, 'DELETE', `/admin/v1/installs/${seg(id)}`);
      if (options.json) return printJson({ deleted: id });
      process.stderr.write(`deleted install ${id}\n`);
    });
}
