/** Every CLI command, in the order `--help` lists them. Add a command by adding its module here. */
import type { Command } from 'commander';
import { registerKeysCommand } from './keys.js';
import { registerPackCommand } from './pack.js';
import { registerRunCommand } from './run.js';
import { registerServeCommand } from './serve.js';
import { registerDemoCommand } from './demo.js';
import { registerNewCommand } from './new.js';
import { registerBuildCommand } from './build.js';
import { registerDevCommand } from './dev.js';
import { registerPublishCommand } from './publish.js';
import { registerSignCommand } from './sign.js';
import { registerLoginCommand } from './login.js';
import { registerInstallsCommand } from './installs.js';
import { registerSecretsCommand } from './secrets.js';
import { registerLogsCommand } from './logs.js';
import { registerTenantDataCommand } from './tenant-data.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerServeCommand,
  registerRunCommand,
  registerDemoCommand,
  registerNewCommand,
  registerBuildCommand,
  registerDevCommand,
  registerPackCommand,
  registerKeysCommand,
  registerSignCommand,
  registerPublishCommand,
  registerLoginCommand,
  registerInstallsCommand,
  registerSecretsCommand,
  registerLogsCommand,
  registerTenantDataCommand,
];
