import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the package under test). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The built CLI; `npm test` builds it first. */
export const BIN = path.join(ROOT, 'dist/cli/bin.js');

/** A throw-away project folder with a knexfile and migrations, as a user would have. */
export interface TestProject {
  readonly dir: string;
  /** Writes a file relative to the project folder. */
  write(file: string, content: string): Promise<void>;
  /** Runs `knex-zd ARGS` in the project folder. */
  run(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  remove(): Promise<void>;
}

/** What a CLI run printed and returned. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI in `cwd`. */
export function runCli(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  // ava sets NODE_ENV=test; a user's shell usually has none, so knexfiles pick 'development'.
  const { NODE_ENV: _nodeEnv, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { ...inherited, NO_COLOR: '1', ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A CommonJS knexfile on `url`, with the given `zeroDowntime` option (as source text). */
export function knexfileSource(url: string, zeroDowntime = '{}', migrations = "{ directory: './migrations' }"): string {
  return `module.exports = {
  client: 'pg',
  connection: ${JSON.stringify(url)},
  pool: { min: 0, max: 4 },
  migrations: ${migrations},
  zeroDowntime: ${zeroDowntime},
};
`;
}

/**
 * Creates a project folder with `files`; `node_modules` links to this repository's knex, pg
 * and the package itself, as after `npm install knex-zero-downtime`.
 */
export async function createProject(files: Record<string, string>): Promise<TestProject> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'knex-zd-project-'));
  await mkdir(path.join(dir, 'node_modules'), { recursive: true });
  for (const pkg of ['knex', 'pg', 'tsx']) {
    await symlink(path.join(ROOT, 'node_modules', pkg), path.join(dir, 'node_modules', pkg), 'dir');
  }
  await symlink(ROOT, path.join(dir, 'node_modules', 'knex-zero-downtime'), 'dir');
  const project: TestProject = {
    dir,
    async write(file, content) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), content);
    },
    run: (args, env) => runCli(dir, args, env),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  for (const [file, content] of Object.entries(files)) await project.write(file, content);
  return project;
}
