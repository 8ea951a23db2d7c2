/**
 * `safeByDefault` through the `knex-zd` CLI: `check` reports each refused statement as a note that
 * says it runs in its safe form; `migrate:plan --json` names the statements and their steps; a
 * `migrate:latest` SIGKILLed while the safe form of CREATE INDEX is building leaves an INVALID
 * index, which a plain rerun finds by its name, drops concurrently and builds again.
 */
import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource } from '../../helpers/project.js';
import { startCli, waitUntil } from '../migrator/support/cli-process.js';
import { seedUsers, session, UNSAFE_MIGRATIONS } from './support.js';

test('check notes the safe form, migrate:plan shows it, and a run SIGKILLed during the concurrent build is finished by a plain rerun', async (t) => {
  const db = await createTestDatabase('safe');
  // A long lock_timeout: the build waits for the open transaction, long enough to be killed.
  const settings = `{ safeByDefault: true, shadow: process.env.ZD_SHADOW ? 'auto' : false, checks: { smallTable: 0 }, timeouts: { lock: '60s' } }`;
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url, settings), 'migrations/001_index.js': UNSAFE_MIGRATIONS['001_index.js'] });
  const open = await session(db.url, 'open writer');
  t.teardown(async () => {
    await open.end().catch(() => undefined);
    await db.drop();
    await project.remove();
  });
  await seedUsers(db.knex);
  // The server notices a client that died while its statement waits (PostgreSQL 14+), as after a crash.
  await db.knex.raw(`ALTER DATABASE ?? SET client_connection_check_interval = '100ms'`, [db.name]);

  const check = await project.run(['check']);
  t.is(check.code, 0, check.stdout + check.stderr);
  t.true(
    check.stdout.includes(
      `note [create-index-blocking] 001_index.js
  Adding an index non-concurrently blocks writes to "users" for as long as the build takes (CREATE INDEX holds a SHARE lock on the table).
  statement: create index "users_c_index" on "users" ("c")
  runs in its safe form (safeByDefault): CREATE INDEX CONCURRENTLY (an INVALID index left by an interrupted build is dropped first). The migration runs outside a transaction: each statement commits on its own.`,
    ),
    check.stdout,
  );
  t.regex(check.stdout, /Checked 1 migration: No problems found\. \(2 notes\)/);

  const planned = await project.run(['migrate:plan', '--json']);
  t.is(planned.code, 0, planned.stderr);
  const [migration] = JSON.parse(planned.stdout).migrations;
  t.false(migration.transaction);
  t.deepEqual(migration.safeForms, [
    { ordinal: 0, statement: 'create index "users_c_index" on "users" ("c")', kind: 'index' },
    { ordinal: 1, statement: 'CREATE INDEX users_lower_email ON users (lower(email))', kind: 'index' },
  ]);
  t.deepEqual(
    migration.statements.map((s: { sql: string; transaction: string; safeFormOf?: { ordinal: number } }) => [s.sql, s.transaction, s.safeFormOf?.ordinal]),
    [
      ['CREATE INDEX CONCURRENTLY users_c_index ON public.users (c)', 'none', 0],
      ['CREATE INDEX CONCURRENTLY users_lower_email ON public.users ((lower(email)))', 'none', 1],
    ],
  );

  // An open write transaction keeps the concurrent build waiting, its INVALID index already made.
  await open.query(`BEGIN; INSERT INTO users (email, c, org_id, name) VALUES ('open', 1, 1, 'open')`);
  const run = startCli(project.dir, ['migrate:latest']);
  await waitUntil('the concurrent build to wait, its INVALID index made', async () => {
    if (run.child.exitCode !== null) throw new Error(`the run ended before it could be killed:\n${run.stdout()}${run.stderr()}`);
    const rows = (await db.knex.raw(`SELECT 1 FROM pg_stat_activity a, pg_index i WHERE a.datname = current_database() AND a.state = 'active' AND a.wait_event_type = 'Lock' AND a.query LIKE 'CREATE INDEX CONCURRENTLY users_c_index%' AND i.indexrelid = to_regclass('users_c_index') AND NOT i.indisvalid`)).rows;
    return rows.length > 0;
  });
  run.child.kill('SIGKILL');
  t.is((await run.done).signal, 'SIGKILL');
  await waitUntil('the server to end the killed build', async () => (await db.knex.raw(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%'`)).rows.length === 0);
  await open.query('COMMIT');
  t.deepEqual((await db.knex.raw(`SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('users_c_index')`)).rows, [{ indisvalid: false }]);

  const resumed = await project.run(['migrate:plan']);
  t.is(resumed.code, 0, resumed.stderr);
  t.true(
    resumed.stdout.includes(`  safe form of: create index "users_c_index" on "users" ("c")
  1. DROP INDEX CONCURRENTLY`),
    resumed.stdout,
  );
  t.true(resumed.stdout.includes('     DROP INDEX CONCURRENTLY IF EXISTS "public"."users_c_index"\n'), resumed.stdout);
  t.true(resumed.stdout.includes('     CREATE INDEX CONCURRENTLY users_c_index ON public.users (c)\n'), resumed.stdout);

  // pg_dump leaves INVALID indexes out: a plan made in the shadow shows the build alone (a known limit).
  const inShadow = await project.run(['migrate:plan'], { ZD_SHADOW: '1' });
  t.is(inShadow.code, 0, inShadow.stderr);
  t.true(inShadow.stdout.includes(`  safe form of: create index "users_c_index" on "users" ("c")
  1. CREATE INDEX CONCURRENTLY`), inShadow.stdout);
  t.false(inShadow.stdout.includes('DROP INDEX'), inShadow.stdout);

  const rerun = await project.run(['migrate:latest']);
  t.is(rerun.code, 0, rerun.stdout + rerun.stderr);
  t.deepEqual(await db.knex('knex_migrations').pluck('name'), ['001_index.js']);
  const indexes = await db.knex.raw(`SELECT indexrelid::regclass::text AS i, indisvalid FROM pg_index WHERE indrelid = 'users'::regclass ORDER BY 1`);
  t.deepEqual(indexes.rows, [
    { i: 'users_c_index', indisvalid: true },
    { i: 'users_lower_email', indisvalid: true },
    { i: 'users_pkey', indisvalid: true },
  ]);
});
