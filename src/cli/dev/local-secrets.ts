/**
 * The install's secrets under `alga-runner dev`, from files in the project that stay on the
 * author's machine (the template's .gitignore lists them): `.secrets.json` (`{"NAME": "value"}`)
 * and `.env` (`NAME=value` lines, `#` comments, optional quotes). Both may exist; `.secrets.json`
 * wins for a name in both.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SECRET_FILES = ['.secrets.json', '.env'] as const;

export class SecretsFileError extends Error {}

function parseEnv(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new SecretsFileError(`.env line ${index + 1} is not NAME=value`);
    let value = match[2]!;
    const quoted = /^(['"])(.*)\1$/.exec(value);
    value = quoted ? quoted[2]! : value.replace(/\s+#.*$/, '');
    values[match[1]!] = value;
  }
  return values;
}

function parseJson(text: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SecretsFileError(`.secrets.json is not JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SecretsFileError('.secrets.json must be an object of names to string values');
  for (const [name, v] of Object.entries(value)) if (typeof v !== 'string') throw new SecretsFileError(`.secrets.json: ${name} must be a string`);
  return value as Record<string, string>;
}

/** The secrets the files hold (empty when there are none). */
export function readLocalSecrets(projectDir: string): { values: Record<string, string>; files: string[] } {
  const files = SECRET_FILES.filter((f) => existsSync(join(projectDir, f)));
  const envFile = join(projectDir, '.env');
  const jsonFile = join(projectDir, '.secrets.json');
  const values = {
    ...(existsSync(envFile) ? parseEnv(readFileSync(envFile, 'utf8')) : {}),
    ...(existsSync(jsonFile) ? parseJson(readFileSync(jsonFile, 'utf8')) : {}),
  };
  return { values, files };
}
