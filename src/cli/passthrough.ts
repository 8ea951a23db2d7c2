import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { findKnexfile } from './knexfile.js';

/** Every command of knex's CLI (node_modules/knex/bin/cli.js), aliases included. */
export const KNEX_CLI_COMMANDS: readonly string[] = [
  'init',
  'migrate:make',
  'migrate:latest',
  'migrate:up',
  'migrate:rollback',
  'migrate:down',
  'migrate:to',
  'migrate:before',
  'migrate:currentVersion',
  'migrate:list',
  'migrate:status',
  'migrate:unlock',
  'seed:make',
  'seed:run',
];

/** Knexfile extensions that knex's CLI loads only with a TypeScript loader. */
const TYPESCRIPT = new Set(['.ts', '.cts', '.mts']);
/** Knexfile extensions that knex's CLI looks for by itself (its `filetypes`, as far as knex-zd finds them). */
const KNEX_FINDS = new Set(['.js', '.mjs', '.ts']);

/** Finds knex's own CLI: the project's knex first (from the working directory), else ours. */
export function knexCliPath(cwd = process.cwd()): string {
  for (const base of [path.join(cwd, 'noop.js'), import.meta.url]) {
    try {
      return createRequire(base).resolve('knex/bin/cli.js');
    } catch {
      // try the next place
    }
  }
  throw new ConfigError('knex is not installed in this project: npm install knex pg');
}

/**
 * How to start knex's CLI for `args` so that it loads the knexfile knex-zd would load: with tsx
 * (knex-zd's own TypeScript loader) for a TypeScript knexfile, and with `--knexfile` when knex
 * would not find that file by itself (`.cjs`, `.cts`, `.mts`).
 */
export function knexCliInvocation(args: readonly string[], cwd = process.cwd()): { node: string[]; args: string[] } {
  const { values } = parseArgs({
    args: [...args],
    options: { cwd: { type: 'string' }, knexfile: { type: 'string' } },
    strict: false,
    allowPositionals: true,
  });
  const flags = { cwd: typeof values.cwd === 'string' ? values.cwd : undefined, knexfile: typeof values.knexfile === 'string' ? values.knexfile : undefined };
  const base = path.resolve(cwd, flags.cwd ?? '.');
  const file = findKnexfile(flags, cwd);
  const extension = file ? path.extname(file) : '';
  const node = TYPESCRIPT.has(extension) ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [];
  const extra = file && !flags.knexfile && !KNEX_FINDS.has(extension) ? ['--knexfile', file] : [];
  return { node, args: [knexCliPath(base), ...args, ...extra] };
}

/** Hands a command knex-zd does not extend to knex's own CLI; resolves with its exit code. */
export function passToKnex(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const invocation = knexCliInvocation(args);
    const child = spawn(process.execPath, [...invocation.node, ...invocation.args], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
