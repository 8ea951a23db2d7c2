import test from 'ava';
import pg from 'pg';
import { createTestDatabase, PG_SERVER_URL, type TestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource, type TestProject } from '../../helpers/project.js';

async function query(url: string, sql: string, values: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Which of these databases exist on the server (other tests' shadows may come and go meanwhile). */
async function existing(...names: Array<string | null | undefined>): Promise<string[]> {
  return (await query(PG_SERVER_URL, 'SELECT datname FROM pg_database WHERE datname = ANY($1) ORDER BY 1', [names.filter(Boolean)])).map((r) => String(r.datname));
}

async function setup(t: { teardown(fn: () => Promise<void>): void }, files: Record<string, string>, zeroDowntime = '{}'): Promise<{ db: TestDatabase; project: TestProject }> {
  const db = await createTestDatabase('zd_shadow');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url, zeroDowntime), ...files });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  return { db, project };
}

interface PlanJson {
  analysis: { mode: string; schema: string | null; database: string | null };
  migrations: Array<{
    name: string;
    stage: string | null;
    analysedBy: string;
    error: string | null;
    statements: Array<{ sql: string; summary: string; stage: string | null; rewrites: boolean; locks: Array<{ relation: string; mode: string }>; findings: Array<{ code: string }>; trace: null | { ran: boolean; sandboxed: string | null; locks: unknown[] | null; newStorage: string[] | null } }>;
  }>;
}

test('shadow: a migration that reads what it just added is analysed; a dialect branch shows the PostgreSQL SQL; no shadow database is left behind', async (t) => {
  const { db, project } = await setup(t, {
    'migrations/001_items.js': `exports.up = (knex) => knex.schema.createTable('items', (t) => { t.increments('id'); t.string('name'); });
exports.down = (knex) => knex.schema.dropTable('items');`,
    'migrations/002_reads_back.js': `exports.up = async (knex) => {
  await knex.schema.alterTable('items', (t) => t.timestamp('updated_time'));
  await knex('items').insert({ name: 'x', updated_time: new Date() });
  const rows = await knex('items').whereNotNull('updated_time').select('id');
  for (const row of rows) await knex('items').where({ id: row.id }).update({ name: 'seen' });
};
exports.down = async () => {};`,
    'migrations/003_dialect.js': `exports.config = { transaction: false };
exports.up = async (knex) => {
  if (knex.client.config.client === 'pg') await knex.raw('CREATE INDEX CONCURRENTLY items_name_idx ON items (name)');
  else await knex.schema.alterTable('items', (t) => t.index('name'));
};
exports.down = (knex) => knex.raw('DROP INDEX CONCURRENTLY items_name_idx');`,
  });
  const plan = await project.run(['migrate:plan', '--json']);
  t.is(plan.code, 0, plan.stderr);
  const parsed = JSON.parse(plan.stdout) as PlanJson;
  t.is(parsed.analysis.mode, 'shadow');
  const reads = parsed.migrations.find((m) => m.name === '002_reads_back.js')!;
  t.is(reads.error, null);
  t.deepEqual(reads.statements.map((s) => s.summary), ['ALTER TABLE ADD COLUMN', 'INSERT', 'UPDATE']);
  const dialect = parsed.migrations.find((m) => m.name === '003_dialect.js')!;
  t.deepEqual(dialect.statements.map((s) => s.sql), ['CREATE INDEX CONCURRENTLY items_name_idx ON items (name)']);
  t.regex(parsed.analysis.database ?? '', /^knex_zd_shadow_[0-9a-f]{12}$/);
  t.deepEqual(await existing(parsed.analysis.database), []);
  t.deepEqual(await query(db.url, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`), [{ n: 0 }]);
});

test("shadow: .alter() widening a varchar is pre-deploy with no rewrite; DROP INDEX names its table; the trace shows what PostgreSQL did", async (t) => {
  const { db, project } = await setup(t, {
    'migrations/001_users.js': `exports.up = (knex) => knex.schema.createTable('users', (t) => { t.increments('id'); t.string('code', 20).notNullable(); t.integer('n'); t.index('n', 'users_n_idx'); });
exports.down = (knex) => knex.schema.dropTable('users');`,
    'migrations/002_widen.js': `exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.string('code', 64).notNullable().alter(); });
exports.down = async () => {};`,
    'migrations/003_drop_index.js': `exports.config = { stage: 'post-deploy' };
exports.up = (knex) => knex.raw('DROP INDEX users_n_idx');
exports.down = async () => {};`,
    'migrations/004_retype.js': `exports.config = { stage: 'post-deploy' };
exports.up = (knex) => knex.raw('ALTER TABLE users ALTER COLUMN n TYPE bigint');
exports.down = async () => {};`,
  });
  t.is((await project.run(['migrate:up'])).code, 0);
  const plan = await project.run(['migrate:plan', '--json']);
  t.is(plan.code, 0, plan.stderr);
  const parsed = JSON.parse(plan.stdout) as PlanJson;
  t.is(parsed.analysis.schema, 'pg_dump');
  const widen = parsed.migrations.find((m) => m.name === '002_widen.js')!;
  t.is(widen.stage, 'pre-deploy');
  t.false(widen.statements.some((s) => s.rewrites));
  t.false(widen.statements.some((s) => s.findings.some((f) => f.code === 'column-type-rewrite')));
  t.true(widen.statements.every((s) => s.trace?.ran && s.trace.newStorage?.length === 0));
  const drop = parsed.migrations.find((m) => m.name === '003_drop_index.js')!;
  t.deepEqual(drop.statements[0].locks, [
    { relation: 'users', mode: 'ACCESS EXCLUSIVE' },
    { relation: 'users_n_idx', mode: 'ACCESS EXCLUSIVE' },
  ]);
  const retype = parsed.migrations.find((m) => m.name === '004_retype.js')!;
  t.true(retype.statements[0].rewrites);
  t.deepEqual(retype.statements[0].trace?.newStorage, ['users']);
  t.deepEqual(await existing(parsed.analysis.database), []);
  t.deepEqual(await query(db.url, `SELECT count(*)::int AS n FROM knex_migrations`), [{ n: 1 }]);
});

test('shadow: statements that reach beyond the shadow are recorded, not run there (roles, other sessions, other databases, programs)', async (t) => {
  const role = `zd_shadow_role_${Date.now().toString(36)}`;
  const { db, project } = await setup(t, {
    'migrations/001_reach.js': `exports.config = { stage: 'pre-deploy', transaction: false };
exports.up = async (knex) => {
  await knex.raw('CREATE ROLE ${role}');
  await knex.raw("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim'");
  await knex.raw("SELECT dblink_exec('dbname=' || current_database(), 'CREATE TABLE dblinked (id int)')");
  await knex.raw("COPY (SELECT 1) TO PROGRAM 'touch /tmp/knex-zd-shadow-escaped'");
  await knex.raw("DO $$ BEGIN PERFORM pg_reload_conf(); END $$");
  await knex.raw('ALTER SYSTEM SET work_mem = 1234');
};
exports.down = async () => {};`,
  });
  await query(db.url, 'CREATE EXTENSION dblink');
  const victim = new pg.Client({ connectionString: db.url, application_name: 'victim' });
  await victim.connect();
  let ended = false;
  victim.on('error', () => void (ended = true));
  t.teardown(async () => {
    await victim.end().catch(() => undefined);
    await query(PG_SERVER_URL, `DROP ROLE IF EXISTS ${role}`);
  });
  const plan = await project.run(['migrate:plan', '--json']);
  t.is(plan.code, 0, plan.stderr);
  const parsed = JSON.parse(plan.stdout) as PlanJson;
  const statements = parsed.migrations[0].statements;
  t.is(statements.length, 6);
  t.true(statements.every((s) => s.trace?.ran === false && typeof s.trace.sandboxed === 'string'), JSON.stringify(statements.map((s) => s.trace)));
  t.regex(statements[0].trace!.sandboxed!, /CREATE ROLE changes the whole server/);
  t.deepEqual(await query(PG_SERVER_URL, 'SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1', [role]), [{ n: 0 }]);
  t.false(ended);
  t.deepEqual((await victim.query('SELECT 1 AS ok')).rows, [{ ok: 1 }]);
  t.deepEqual(await query(db.url, `SELECT to_regclass('dblinked') AS r`), [{ r: null }]);
  t.deepEqual(await query(PG_SERVER_URL, `SELECT setting FROM pg_file_settings WHERE name = 'work_mem' AND setting = '1234'`), []);
  t.deepEqual(await existing(parsed.analysis.database), []);
});

test('shadow: a scratch database is used when named, refused when it is the target or holds what knex-zd did not put there', async (t) => {
  const scratch = await createTestDatabase('zd_scratch');
  t.teardown(() => scratch.drop());
  const files = {
    'migrations/001_t.js': `exports.up = (knex) => knex.schema.createTable('t', (t) => { t.increments('id'); });
exports.down = (knex) => knex.schema.dropTable('t');`,
  };
  const { db, project } = await setup(t, files, `{ shadow: ${JSON.stringify(scratch.url)} }`);
  for (let run = 0; run < 2; run++) {
    const plan = await project.run(['migrate:plan', '--json']);
    t.is(plan.code, 0, plan.stderr);
    t.is((JSON.parse(plan.stdout) as PlanJson).analysis.mode, 'shadow');
  }
  t.deepEqual(await query(db.url, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`), [{ n: 0 }]);

  const own = await createTestDatabase('zd_scratch_busy');
  t.teardown(() => own.drop());
  await query(own.url, 'CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)');
  await project.write('knexfile.js', knexfileSource(db.url, `{ shadow: ${JSON.stringify(own.url)} }`));
  const busy = await project.run(['migrate:plan']);
  t.is(busy.code, 2);
  t.regex(busy.stderr, /zeroDowntime\.shadow: the database zd_scratch_busy_\w+ is not empty and knex-zd did not make it its scratch database; knex-zd empties the shadow before each use and never drops what it did not create\. Give it an empty database\. Nothing was changed\./);
  t.deepEqual(await query(own.url, 'SELECT id FROM precious'), [{ id: 1 }]);

  await project.write('knexfile.js', knexfileSource(db.url, `{ shadow: ${JSON.stringify(db.url)} }`));
  const itself = await project.run(['migrate:plan']);
  t.is(itself.code, 2);
  t.regex(itself.stderr, /zeroDowntime\.shadow names the target database itself \(zd_shadow_\w+\)/);

  await project.write('knexfile.js', knexfileSource(db.url, `{ shadow: 'postgres://postgres@127.0.0.1:1/nowhere' }`));
  const unreachable = await project.run(['migrate:plan']);
  t.is(unreachable.code, 2);
  t.regex(unreachable.stderr, /zeroDowntime\.shadow: cannot connect to the shadow database: .*\. Nothing was changed\./);

  await project.write('knexfile.js', knexfileSource(db.url, `{ shadow: 'mysql://x' }`));
  const wrong = await project.run(['migrate:plan']);
  t.is(wrong.code, 2);
  t.regex(wrong.stderr, /zeroDowntime\.shadow must be 'auto', false, or a postgres:\/\/ URL of a scratch database; got "mysql:\/\/x"/);
});

test('shadow: a role that may not create databases falls back to capture mode, saying so in one line', async (t) => {
  const role = `zd_nocreatedb_${Date.now().toString(36)}`;
  const db = await createTestDatabase('zd_shadow_role');
  await query(PG_SERVER_URL, `CREATE ROLE ${role} LOGIN NOCREATEDB`);
  await query(db.url, `GRANT ALL ON SCHEMA public TO ${role}`);
  const url = new URL(db.url);
  url.username = role;
  const project = await createProject({
    'knexfile.js': knexfileSource(url.toString()),
    'migrations/001_t.js': `exports.up = (knex) => knex.schema.createTable('t', (t) => { t.increments('id'); });
exports.down = (knex) => knex.schema.dropTable('t');`,
  });
  t.teardown(async () => {
    await project.remove();
    await db.drop();
    await query(PG_SERVER_URL, `DROP ROLE IF EXISTS ${role}`);
  });
  const plan = await project.run(['migrate:plan', '--json']);
  t.is(plan.code, 0, plan.stderr);
  t.is((JSON.parse(plan.stdout) as PlanJson).analysis.mode, 'capture');
  t.regex(plan.stderr, /^knex-zd: no shadow database \(the role may not create databases \(permission denied to create database\)\); analysing in capture mode\. Set zeroDowntime\.shadow to a scratch database URL, or to false to silence this\.\n$/);
});

test('shadow: leftovers of killed runs (marked by knex-zd, no session) are dropped by the next run; unmarked databases are kept', async (t) => {
  const marked = `knex_zd_shadow_${Date.now().toString(36)}dead`;
  const unmarked = `knex_zd_shadow_${Date.now().toString(36)}user`;
  await query(PG_SERVER_URL, `CREATE DATABASE ${marked}`);
  await query(PG_SERVER_URL, `COMMENT ON DATABASE ${marked} IS 'knex-zero-downtime shadow: {"host":"elsewhere","pid":1,"created":0}'`);
  await query(PG_SERVER_URL, `CREATE DATABASE ${unmarked}`);
  t.teardown(async () => {
    await query(PG_SERVER_URL, `DROP DATABASE IF EXISTS ${marked}`);
    await query(PG_SERVER_URL, `DROP DATABASE IF EXISTS ${unmarked}`);
  });
  const { project } = await setup(t, {
    'migrations/001_t.js': `exports.up = (knex) => knex.schema.createTable('t', (t) => { t.increments('id'); });
exports.down = (knex) => knex.schema.dropTable('t');`,
  });
  const plan = await project.run(['migrate:plan']);
  t.is(plan.code, 0, plan.stderr);
  t.deepEqual(await existing(marked, unmarked), [unmarked]);
});

test('shadow: without a usable pg_dump the completed migrations are replayed, and the plan says so', async (t) => {
  const { project } = await setup(t, {
    'migrations/001_users.js': `exports.up = async (knex) => {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS citext');
  await knex.schema.createTable('users', (t) => { t.increments('id'); t.specificType('email', 'citext'); });
};
exports.down = (knex) => knex.schema.dropTable('users');`,
    'migrations/002_nick.js': `exports.config = { transaction: false };
exports.up = async (knex) => {
  await knex.schema.alterTable('users', (t) => t.string('nick'));
  await knex.raw('CREATE INDEX CONCURRENTLY users_nick_idx ON users (nick)');
};
exports.down = async () => {};`,
    'migrations/003_email_index.js': `exports.up = (knex) => knex.raw('CREATE UNIQUE INDEX users_email_key ON users (email)');
exports.down = async () => {};`,
  });
  t.is((await project.run(['migrate:up'])).code, 0);
  t.is((await project.run(['migrate:up'])).code, 0);
  const plan = await project.run(['migrate:plan', '--json'], { KNEX_ZD_PG_DUMP: 'none' });
  t.is(plan.code, 0, plan.stderr);
  const parsed = JSON.parse(plan.stdout) as PlanJson;
  t.deepEqual([parsed.analysis.mode, parsed.analysis.schema], ['shadow', 'replay']);
  t.regex(plan.stderr, /^knex-zd: the shadow database replays the completed migrations, because no pg_dump of PostgreSQL \d+ or newer was found \(install the PostgreSQL \d+ client, or set KNEX_ZD_PG_DUMP\); what no migration created is not in it\.\n$/);
  const [index] = parsed.migrations[0].statements;
  t.is(index.summary, 'CREATE UNIQUE INDEX');
  t.deepEqual(index.locks, [{ relation: 'users', mode: 'SHARE' }]);
  t.true(index.trace?.ran);
});

test('shadow: a migration that waits for data the shadow does not have is stopped after the time limit and reported, and the shadow is dropped', async (t) => {
  const { db, project } = await setup(t, {
    'migrations/001_gate.js': `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.raw('DO $$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM gate) LOOP PERFORM pg_sleep(0.05); END LOOP; END $$');
exports.down = async () => {};`,
  });
  await query(db.url, 'CREATE TABLE gate (open boolean); INSERT INTO gate VALUES (true)');
  const started = Date.now();
  const plan = await project.run(['migrate:plan', '--json'], { KNEX_ZD_SHADOW_MIGRATION_TIMEOUT: '2000' });
  t.true(Date.now() - started < 60_000);
  t.is(plan.code, 1);
  const parsed = JSON.parse(plan.stdout) as PlanJson;
  t.regex(parsed.migrations[0].error ?? '', /001_gate\.js did not finish within 2 s in the shadow database, which holds the target's schema but not its rows: a migration that waits for data cannot be analysed there\./);
  t.deepEqual(await existing(parsed.analysis.database), []);
});
