import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ConfigError } from '../errors.js';

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

/** Hands a command knex-zd does not extend to knex's own CLI, unchanged; resolves with its exit code. */
export function passToKnex(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [knexCliPath(), ...args], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
