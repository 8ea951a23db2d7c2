import { readFileSync } from 'node:fs';
import { ZeroDowntimeError, ConfigError } from '../errors.js';
import { EXIT, type Command } from './command.js';
import { checkCommand } from './commands/check.js';
import { migrateLatestCommand } from './commands/migrate-latest.js';
import { migrateMakeCommand } from './commands/migrate-make.js';
import { migratePlanCommand } from './commands/migrate-plan.js';
import { migrateRollbackCommand } from './commands/migrate-rollback.js';
import { migrateStatusCommand } from './commands/migrate-status.js';
import { migrateDownCommand, migrateUpCommand } from './commands/migrate-step.js';
import { migrateUnlockCommand } from './commands/migrate-unlock.js';
import { verifyCommand } from './commands/verify.js';
import { parseFlags, type ParsedFlags } from './flags.js';
import { errorDocument, wantsJson } from './json-document.js';
import { palette, processOutput, type Output } from './output.js';
import { passToKnex } from './passthrough.js';

/** Every command knex-zd extends; anything else goes to knex's CLI. */
export const COMMANDS: readonly Command[] = [
  migrateLatestCommand,
  migrateRollbackCommand,
  migrateUpCommand,
  migrateDownCommand,
  migrateStatusCommand,
  migratePlanCommand,
  checkCommand,
  migrateMakeCommand,
  migrateUnlockCommand,
  verifyCommand,
];

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

function usage(c: ReturnType<typeof palette>): string {
  const width = Math.max(...COMMANDS.map((cmd) => cmd.name.length));
  return [
    `${c.bold('knex-zd')}: knex migrations for zero-downtime deploys on PostgreSQL.`,
    '',
    'Usage: knex-zd <command> [--knexfile PATH] [--cwd DIR] [--env NAME] [flags]',
    '',
    'A deploy: knex-zd migrate:latest --pre-deploy; roll out the new code; knex-zd migrate:latest',
    '',
    'Commands:',
    ...COMMANDS.map((cmd) => `  ${cmd.name.padEnd(width)}  ${cmd.summary}`),
    '',
    'Every other command (seed:run, migrate:currentVersion, init…) is handed to knex\'s CLI unchanged.',
    'knex-zd <command> --help shows a command\'s flags.',
  ].join('\n');
}

/** Describes an error for the terminal: the message, and the driver's SQLSTATE when there is one. */
function describeError(error: unknown): string {
  if (error instanceof ZeroDowntimeError) {
    const state = error.sqlState ? ` (SQLSTATE ${error.sqlState})` : '';
    return `${error.message}${state}`;
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.message}${typeof code === 'string' ? ` (${code})` : ''}`;
  }
  return String(error);
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: readonly string[], output: Output = processOutput()): Promise<number> {
  const c = palette(output.color);
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    output.out(usage(c));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    output.out(`knex-zd ${version()}`);
    return EXIT.ok;
  }
  const command = findCommand(name);
  if (!command) return passToKnex(argv);
  let values: ParsedFlags['values'] | undefined;
  try {
    const flags = parseFlags(command.name, rest, command.flags);
    values = flags.values;
    if (flags.values.help) {
      output.out(command.help);
      return EXIT.ok;
    }
    return await command.run(flags, output);
  } catch (error) {
    const code = error instanceof ConfigError ? EXIT.usage : EXIT.failure;
    // With --json the error is the one document on stdout; otherwise one message on stderr.
    if (wantsJson(command, rest, values)) output.out(errorDocument(error, code));
    else output.err(`${c.red(c.bold('Error:'))} ${describeError(error)}`);
    if (process.env.KNEX_ZD_DEBUG && error instanceof Error && error.stack) output.err(c.dim(error.stack));
    return code;
  }
}
