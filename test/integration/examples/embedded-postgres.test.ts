/**
 * The embedded PostgreSQL of the demo (and of the tests' second server) starts from a clone in a
 * folder its user cannot enter (as root, PostgreSQL runs as `postgres`: root's home, any 0700
 * folder), keeps its password private, and leaves nothing behind.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import pg from 'pg';
import {
  EmbeddedPostgresError,
  installedBinaries,
  linkTree,
  privateFolder,
  serverUser,
  startEmbeddedPostgres,
  userCan,
} from '../../../examples/demo/embedded-postgres.js';

const user = serverUser();

/** A folder only we may enter (0700, as mkdtemp makes it). */
async function lockedFolder(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zd-locked-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('its folder: under the first parent its user can enter, 0700, owned by that user', async (t) => {
  const locked = await lockedFolder(t);
  const parents = user ? [locked, os.tmpdir()] : [os.tmpdir()];
  const folder = await privateFolder(user, 'zd-private-', parents);
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  t.is(path.dirname(folder), path.resolve(os.tmpdir()));
  const info = await stat(folder);
  t.is(info.mode & 0o777, 0o700);
  t.is(info.uid, user?.uid ?? os.userInfo().uid);
  t.true(userCan(user, ['-x', '-w'], folder));
});

test('no parent its user can enter: an error that says what to do', async (t) => {
  if (!user) {
    t.pass('not root: PostgreSQL runs as the current user, who enters its own folders');
    return;
  }
  const locked = await lockedFolder(t);
  const error = await t.throwsAsync(privateFolder(user, 'zd-private-', [locked]), { instanceOf: EmbeddedPostgresError });
  t.is(error.code, 'EMBEDDED_PG_NO_FOLDER');
  t.regex(error.message, /cannot enter a new folder under .*zd-locked-.*TMPDIR.*DATABASE_URL/s);
  t.deepEqual(await readdir(locked), []);
});

test('binaries in a folder only root may enter: it runs from a linked copy, asks for a password no one else can read, and stop() leaves nothing', async (t) => {
  const installed = await installedBinaries();
  const locked = await lockedFolder(t);
  const native = path.join(locked, 'clone', 'native');
  await linkTree(path.dirname(path.dirname(installed.initdb)), native);
  const binaries = { name: installed.name, initdb: path.join(native, 'bin', 'initdb'), postgres: path.join(native, 'bin', 'postgres') };
  if (user) t.false(userCan(user, ['-x'], binaries.initdb), 'the premise: the postgres user cannot reach these binaries');

  const server = await startEmbeddedPostgres({ binaries, prefix: 'zd-embedded-' });
  t.teardown(() => server.stop());
  t.is(server.staged, user !== null);
  t.is(server.user, user?.name ?? null);
  t.is((await stat(server.folder)).mode & 0o777, 0o700);
  t.false((await readdir(server.folder)).includes('password'), 'the password file is gone once initdb has read it');

  const url = new URL(server.url('postgres'));
  t.true(url.password.length >= 20);
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  t.is((await client.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n, 1);
  await client.end();
  url.password = 'wrong';
  await t.throwsAsync(async () => {
    const intruder = new pg.Client({ connectionString: url.toString() });
    try {
      await intruder.connect();
    } finally {
      await intruder.end().catch(() => undefined);
    }
  }, { message: /password authentication failed/ });

  await server.stop();
  t.false(existsSync(server.folder));
  const after = new pg.Client({ connectionString: server.url('postgres') });
  await t.throwsAsync(after.connect(), { message: /ECONNREFUSED/ });
  await after.end().catch(() => undefined);
});
