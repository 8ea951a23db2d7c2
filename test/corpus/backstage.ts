/**
 * The Backstage migration sets, a corpus of real knex migrations none of which were written for
 * knex-zd. Each set is taken from the package Backstage publishes on npm (`npm pack`, pinned
 * versions), unpacked once into a cache folder that is not part of the repository.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';

const run = promisify(execFile);

/** One migration set: a package, and the folder of its migrations. */
export interface CorpusSet {
  readonly name: string;
  readonly pkg: string;
  readonly version: string;
  readonly folder: string;
}

/** Every set the issue names, at the versions measured. */
export const BACKSTAGE_SETS: readonly CorpusSet[] = [
  { name: 'catalog', pkg: '@backstage/plugin-catalog-backend', version: '4.0.5', folder: 'migrations' },
  { name: 'auth', pkg: '@backstage/plugin-auth-backend', version: '0.31.0', folder: 'migrations' },
  { name: 'scaffolder', pkg: '@backstage/plugin-scaffolder-backend', version: '4.3.0', folder: 'migrations' },
  { name: 'notifications', pkg: '@backstage/plugin-notifications-backend', version: '0.6.11', folder: 'migrations' },
  { name: 'app', pkg: '@backstage/plugin-app-backend', version: '0.5.20', folder: 'migrations' },
  { name: 'events', pkg: '@backstage/plugin-events-backend', version: '0.6.6', folder: 'migrations' },
  { name: 'search-pg', pkg: '@backstage/plugin-search-backend-module-pg', version: '0.5.61', folder: 'migrations' },
  { name: 'user-settings', pkg: '@backstage/plugin-user-settings-backend', version: '0.4.9', folder: 'migrations' },
  { name: 'scheduler', pkg: '@backstage/backend-defaults', version: '0.19.0', folder: 'migrations/scheduler' },
  { name: 'auth-keys', pkg: '@backstage/backend-defaults', version: '0.19.0', folder: 'migrations/auth' },
];

/** Where the unpacked packages are kept between runs. */
export const CACHE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules/.cache/knex-zd-corpus');

/** The folder of a set's migrations, fetched with `npm pack` (from the npm registry) on first use. */
export async function migrationsOf(set: CorpusSet): Promise<string> {
  const unpacked = path.join(CACHE, `${set.pkg.replace('/', '__')}@${set.version}`);
  const folder = path.join(unpacked, 'package', set.folder);
  if (existsSync(folder)) return folder;
  await mkdir(unpacked, { recursive: true });
  const { stdout } = await run('npm', ['pack', `${set.pkg}@${set.version}`, '--silent', '--pack-destination', unpacked], { timeout: 120_000 });
  const tarball = path.join(unpacked, stdout.trim().split('\n').at(-1) ?? '');
  await run('tar', ['xzf', tarball, '-C', unpacked, 'package/package.json', set.folder.startsWith('migrations/') ? `package/${set.folder}` : 'package/migrations']);
  await rm(tarball, { force: true });
  if (!existsSync(folder)) throw new Error(`${set.pkg}@${set.version} has no ${set.folder} folder.`);
  return folder;
}

/** The migration files of a set, in knex's order. */
export async function migrationFiles(set: CorpusSet): Promise<string[]> {
  return (await readdir(await migrationsOf(set))).filter((f) => f.endsWith('.js')).sort();
}

/** A knex instance on `url` for a set's migrations (`.js` files), with a `zeroDowntime` option when given. */
export function corpusKnex(url: string, directory: string, zeroDowntime?: Record<string, unknown>): Knex {
  return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 4 }, migrations: { directory, loadExtensions: ['.js'] }, ...(zeroDowntime ? { zeroDowntime } : {}) } as Knex.Config);
}
