/**
 * Where the operator commands send their calls: a runner URL and an admin token, from the command's
 * flags, else the environment (RUNNER_URL, RUNNER_ADMIN_TOKEN — the token `publish` and the service
 * itself read), else a named profile in the config file that `alga-runner login` writes
 * (`$XDG_CONFIG_HOME/alga-runner/config.json`, default `~/.config/...`, mode 0600: it holds tokens).
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { CliFailure } from './failure.js';

const profileSchema = z.strictObject({ url: z.url({ protocol: /^https?$/ }), token: z.string().min(1) });
const configSchema = z.strictObject({ profile: z.string().min(1).optional(), profiles: z.record(z.string().min(1), profileSchema).default({}) });

export type Profile = z.infer<typeof profileSchema>;
export type CliConfig = z.infer<typeof configSchema>;

export const DEFAULT_PROFILE = 'default';

/** The options every operator command takes (see `targetOptions`). */
export interface TargetFlags {
  url?: string;
  token?: string;
  profile?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'alga-runner', 'config.json');
}

export async function readCliConfig(path = configPath()): Promise<CliConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliFailure(`${path} is not valid JSON; fix it or remove it and run alga-runner login again`);
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) throw new CliFailure(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** Writes the file readable by its owner only (it holds admin tokens), replacing it atomically. */
export async function writeCliConfig(config: CliConfig, path = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // writeFile's mode applies only to a new file; a leftover temporary keeps its own
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

export function checkedProfile(url: string, token: string): Profile {
  const parsed = profileSchema.safeParse({ url: url.replace(/\/+$/, ''), token });
  if (!parsed.success) throw new CliFailure(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

/** The runner to call: flags, then environment, then the profile (named, or the current one). */
export async function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): Promise<Profile> {
  let url = flags.url ?? (env.RUNNER_URL || undefined);
  let token = flags.token ?? (env.RUNNER_ADMIN_TOKEN || undefined);
  if (url === undefined || token === undefined) {
    const config = await readCliConfig(configPath(env));
    const name = flags.profile ?? (env.RUNNER_PROFILE || undefined) ?? config.profile ?? DEFAULT_PROFILE;
    const profile = config.profiles[name];
    if (!profile && (flags.profile !== undefined || env.RUNNER_PROFILE)) throw new CliFailure(`no profile ${name} in ${configPath(env)} (alga-runner login --profile ${name} saves one)`);
    url ??= profile?.url;
    token ??= profile?.token;
  }
  if (url === undefined) throw new CliFailure('no runner URL: pass --url, set RUNNER_URL, or save one with alga-runner login');
  if (token === undefined) throw new CliFailure('an admin token is needed: pass --token, set RUNNER_ADMIN_TOKEN, or save one with alga-runner login');
  return checkedProfile(url, token);
}
