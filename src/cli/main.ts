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
import { initCommand } from './commands/init.js';
import { verifyCommand } from './commands/verify.js';
import { KNEX_FLAGS_HELP, PROJECT_FLAGS, parseFlags, type ParsedFlags } from './flags.js';
import { errorDocument, wantsJson } from './json-document.js';
import { palette, processOutput, type Output } from './output.js';
import { KNEX_CLI_COMMANDS, passToKnex } from './passthrough.js';

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
  initCommand,
];

/** knex's commands that knex-zd hands to knex's CLI: the ones it does not extend. */
export const PASSED_TO_KNEX: readonly string[] = KNEX_CLI_COMMANDS.filter((name) => !findCommand(name));

/** Flags that take a value, so that the command can come after them (`knex-zd --cwd app migrate:latest`). */
const VALUE_FLAGS = new Set([
  ...Object.entries(PROJECT_FLAGS)
    .filter(([, option]) => option.type === 'string')
    .map(([name]) => `--${name}`),
  '-x',
]);

/** Splits the command name from its arguments; knex's flags may come before it, as with knex's CLI. */
export function splitCommand(argv: readonly string[]): { name: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') break;
    if (!arg.startsWith('-')) return { name: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
    if (VALUE_FLAGS.has(arg)) i++;
  }
  return { name: undefined, rest: [...argv] };
}

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
    `knex's other commands (${PASSED_TO_KNEX.join(', ')}) are handed to knex's CLI, with the same knexfile;`,
    'any other command is an error (exit 2).',
    'knex-zd <command> --help shows a command\'s flags, and knex\'s that every command takes (--client, --connection…).',
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
  const first = argv[0];
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    output.out(usage(c));
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === '--version' || first === '-V') {
    output.out(`knex-zd ${version()}`);
    return EXIT.ok;
  }
  const { name, rest } = splitCommand(argv);
  if (name === undefined && (rest.includes('--help') || rest.includes('-h'))) {
    output.out(usage(c));
    return EXIT.ok;
  }
  const command = name === undefined ? undefined : findCommand(name);
  let values: ParsedFlags['values'] | undefined;
  try {
    if (!command) {
      if (name !== undefined && PASSED_TO_KNEX.includes(name)) return await passToKnex(argv);
      output.err(
        `${c.red(c.bold('Error:'))} ${name === undefined ? 'No command given' : `Unknown command ${JSON.stringify(name)}`}. ` +
          `knex-zd's commands: ${COMMANDS.map((cmd) => cmd.name).join(', ')}; knex's, run by knex's CLI: ${PASSED_TO_KNEX.join(', ')}. ` +
          'Run knex-zd --help.',
      );
      return EXIT.usage;
    }
    const flags = parseFlags(command.name, rest, command.flags);
    values = flags.values;
    if (flags.values.help) {
      // init takes knex's flags without using them; its help says so.
      output.out(command === initCommand ? command.help : `${command.help}\n\n${KNEX_FLAGS_HELP}`);
      return EXIT.ok;
    }
    return await command.run(flags, output);
  } catch (error) {
    const code = error instanceof ConfigError ? EXIT.usage : EXIT.failure;
    // With --json the error is the one document on stdout; otherwise one message on stderr.
    if (command && wantsJson(command, rest, values)) output.out(errorDocument(error, code));
    else output.err(`${c.red(c.bold('Error:'))} ${describeError(error)}`);
    if (process.env.KNEX_ZD_DEBUG && error instanceof Error && error.stack) output.err(c.dim(error.stack));
    return code;
  }
}
