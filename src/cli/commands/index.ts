/** Every CLI command, in the order `--help` lists them. Add a command by adding its module here. */
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [];
