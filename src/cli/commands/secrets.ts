/**
 * `alga-runner secrets set|list|delete`: an install's secrets through the admin API. Values go in
 * (encrypted by the runner with RUNNER_SECRETS_KEY) and never come back out: `list` shows names.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { adminCall, seg } from '../admin/client.js';
import { CliFailure } from '../admin/failure.js';
import { printJson, table, targetOptions, type CommonFlags } from '../admin/output.js';
import { resolveTarget } from '../admin/profile.js';

async function valuesFrom(pairs: readonly string[], file: string | undefined): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new CliFailure(`--file ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string'))
      throw new CliFailure(`--file ${file}: must be a JSON object of names to string values`);
    Object.assign(values, parsed);
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliFailure(`${pair}: expected NAME=VALUE`);
    values[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return values;
}

export function registerSecretsCommand(program: Command): void {
  const secrets = program.command('secrets').description("set, list and remove an install's secrets (the admin API; values are never shown)");

  targetOptions(secrets.command('set').description('set secrets of an install; its other secrets stay unless --replace (PATCH, or PUT, /admin/v1/installs/{id}/secrets)'))
    .argument('<install>', 'install id')
    .argument('[pairs...]', 'NAME=VALUE (note: a value on the command line may stay in your shell history; --file avoids that)')
    .option('--file <json>', 'a JSON file of {"NAME": "VALUE"}')
    .option('--expires-at <iso>', 'when these values expire (ISO 8601 with an offset, e.g. 2027-01-01T00:00:00Z)')
    .option('--replace', "make these the install's whole set: names not given are removed")
    .action(async (id: string, pairs: string[], options: CommonFlags & { file?: string; expiresAt?: string; replace?: boolean }) => {
      const values = await valuesFrom(pairs, options.file);
      if (Object.keys(values).length === 0 && !options.replace) throw new CliFailure('no secrets given: NAME=VALUE or --file');
      const target = await resolveTarget(options);
      const body = { values, ...(options.expiresAt !== undefined && { expires_at: options.expiresAt }) };
      await adminCall(target, options.replace ? 'PUT' : 'PATCH', `/admin/v1/installs/${seg(id)}/secrets`, { body });
      const names = Object.keys(values).sort();
      if (options.json) return printJson({ install_id: id, set: names, replaced: options.replace === true });
      process.stderr.write(`set ${names.length} secret(s) of install ${id}${names.length ? `: ${names.join(', ')}` : ''}\n`);
    });

  targetOptions(secrets.command('list').description("names of an install's secrets that have not expired"))
    .argument('<install>', 'install id')
    .action(async (id: string, options: CommonFlags) => {
      const target = await resolveTarget(options);
      const install = await adminCall<{ secrets: string[] }>(target, 'GET', `/admin/v1/installs/${seg(id)}`);
      if (options.json) return printJson({ install_id: id, secrets: install.secrets });
      process.stdout.write(
        table(
          ['SECRET'],
          install.secrets.map((name) => [name]),
        ),
      );
    });

  targetOptions(secrets.command('delete').description('remove one secret of an install (DELETE /admin/v1/installs/{id}/secrets/{name})'))
    .argument('<install>', 'install id')
    .argument('<name>', 'secret name')
    .action(async (id: string, name: string, options: CommonFlags) => {
      const target = await resolveTarget(options);
      await adminCall(target, 'DELETE', `/admin/v1/installs/${seg(id)}/secrets/${seg(name)}`);
      if (options.json) return printJson({ install_id: id, deleted: name });
      process.stderr.write(`deleted secret ${name} of install ${id}\n`);
    });
}
