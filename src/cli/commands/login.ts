/**
 * `alga-runner login` saves a runner URL and admin token as a named profile (checked against the
 * runner first); `alga-runner profiles` lists them and picks the current one. The operator commands
 * read them (src/cli/admin/profile.ts) so `--url` and `--token` are not needed every time.
 */
import type { Command } from 'commander';
import { adminCall } from '../admin/client.js';
import { CliFailure } from '../admin/failure.js';
import { printJson, table } from '../admin/output.js';
import { checkedProfile, configPath, DEFAULT_PROFILE, readCliConfig, writeCliConfig } from '../admin/profile.js';

export function registerLoginCommand(program: Command): void {
  program
    .command('login')
    .description(
      'save a runner URL and admin token as a profile in $XDG_CONFIG_HOME/alga-runner/config.json (default ~/.config/…; mode 0600), after checking them against the runner; it becomes the current profile',
    )
    .requiredOption('--url <url>', 'runner base URL, e.g. http://127.0.0.1:8080')
    .option('--token <token>', 'admin token (default: $RUNNER_ADMIN_TOKEN)')
    .option('--profile <name>', 'profile name', DEFAULT_PROFILE)
    .option('--no-verify', 'save without calling the runner')
    .action(async (options: { url: string; token?: string; profile: string; verify: boolean }) => {
      const token = options.token ?? (process.env.RUNNER_ADMIN_TOKEN || undefined);
      if (!token) throw new CliFailure('an admin token is needed (--token or RUNNER_ADMIN_TOKEN)');
      const profile = checkedProfile(options.url, token);
      // any admin call proves both the URL and the token
      if (options.verify) await adminCall(profile, 'GET', '/admin/v1/extensions');
      const config = await readCliConfig();
      config.profiles[options.profile] = profile;
      config.profile = options.profile;
      await writeCliConfig(config);
      process.stderr.write(`saved profile ${options.profile} (${profile.url}) in ${configPath()}\n`);
    });

  const profiles = program.command('profiles').description('list the saved profiles, or pick the current one');
  profiles
    .command('list', { isDefault: true })
    .description('the saved profiles (tokens are not shown); * marks the current one')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const config = await readCliConfig();
      const current = config.profile ?? DEFAULT_PROFILE;
      const rows = Object.entries(config.profiles).map(([name, p]) => ({ name, url: p.url, current: name === current }));
      if (options.json) return printJson({ profiles: rows });
      process.stdout.write(
        table(
          ['', 'PROFILE', 'URL'],
          rows.map((r) => [r.current ? '*' : ' ', r.name, r.url]),
        ),
      );
    });
  profiles
    .command('use')
    .description('make <name> the current profile')
    .argument('<name>')
    .action(async (name: string) => {
      const config = await readCliConfig();
      if (!config.profiles[name]) throw new CliFailure(`no profile ${name} in ${configPath()}`);
      config.profile = name;
      await writeCliConfig(config);
    });
}
