/**
 * A working copy of the example app in a temporary folder, as a user's project would look after
 * `npm install knex-zero-downtime`: the knexfile, the migrations of the releases shipped so far,
 * and `node_modules` links to this repository's knex, pg, tsx and the package itself.
 */
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RELEASES } from '../app/src/releases.js';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The example app's folder. */
export const APP_DIR = path.join(ROOT, 'examples/app');
/** The built CLI (`npm run build`). */
export const BIN = path.join(ROOT, 'dist/cli/bin.js');

/** A working copy of the example app. */
export interface Workspace {
  readonly dir: string;
  readonly migrationsDir: string;
  /** Copies the migration files of `release` into the working copy (a release being shipped). */
  ship(release: number): Promise<void>;
  remove(): Promise<void>;
}

/** Creates the working copy under `parent` (default: the system's temp folder). */
export async function createWorkspace(parent = os.tmpdir()): Promise<Workspace> {
  const dir = await mkdtemp(path.join(parent, 'knex-zd-shop-'));
  const migrationsDir = path.join(dir, 'migrations');
  await mkdir(migrationsDir, { recursive: true });
  await mkdir(path.join(dir, 'node_modules'), { recursive: true });
  for (const pkg of ['knex', 'pg', 'tsx']) {
    await symlink(path.join(ROOT, 'node_modules', pkg), path.join(dir, 'node_modules', pkg), 'dir');
  }
  await symlink(ROOT, path.join(dir, 'node_modules', 'knex-zero-downtime'), 'dir');
  await writeFile(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'shop', private: true, type: 'module' }, null, 2)}\n`);
  await copyFile(path.join(APP_DIR, 'knexfile.ts'), path.join(dir, 'knexfile.ts'));
  return {
    dir,
    migrationsDir,
    async ship(release) {
      const found = RELEASES.find((r) => r.number === release);
      if (!found) throw new Error(`no release ${release} in examples/app/src/releases.ts`);
      for (const file of found.migrations) {
        await copyFile(path.join(APP_DIR, 'migrations', file), path.join(migrationsDir, file));
      }
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
