import test from 'ava';
import pg from 'pg';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource } from '../../helpers/project.js';

/** Everything planning could change: catalog, data, sequences, other sessions, locks. */
async function snapshot(url: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const q = async (sql: string) => (await client.query(sql)).rows;
    return {
      relations: await q(`SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1`),
      columns: await q(`SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2`),
      audit: await q('SELECT * FROM audit ORDER BY id'),
      sequence: await q('SELECT last_value, is_called FROM audit_id_seq'),
    };
  } finally {
    await client.end();
  }
}

// Each migration smuggles a write past a READ ONLY transaction in its own way; with the
// shadow database off (capture mode), planning must record them all and run none.
const SMUGGLERS = {
  'migrations/001_dblink.js': `exports.up = (knex) => knex.raw("SELECT dblink_exec('dbname=' || current_database(), 'INSERT INTO audit (note) VALUES (''dblink'')')");
exports.down = async () => {};`,
  'migrations/002_commit.js': `exports.up = (knex) => knex.raw("SELECT 1; COMMIT; INSERT INTO audit (note) VALUES ('commit')");
exports.down = async () => {};`,
  'migrations/003_terminate.js': `exports.up = (knex) => knex.raw("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim'");
exports.down = async () => {};`,
  'migrations/004_advisory.js': `exports.up = (knex) => knex.raw('SELECT pg_advisory_lock(4242)');
exports.down = async () => {};`,
  'migrations/005_cte.js': `exports.up = (knex) => knex.raw("WITH w AS (INSERT INTO audit (note) VALUES ('cte') RETURNING 1) SELECT * FROM w");
exports.down = async () => {};`,
  'migrations/006_nextval.js': `exports.up = (knex) => knex.raw("SELECT nextval('audit_id_seq')");
exports.down = async () => {};`,
  'migrations/007_into.js': `exports.up = (knex) => knex.raw('SELECT * INTO stolen FROM audit');
exports.down = async () => {};`,
  'migrations/008_begin_commit.js': `exports.up = (knex) => knex.raw('BEGIN; ALTER TABLE items RENAME TO things; DROP TABLE things; COMMIT;');
exports.down = async () => {};`,
  'migrations/009_user_function.js': `exports.up = (knex) => knex.raw('SELECT public.sneaky()');
exports.down = async () => {};`,
};

test('planning never writes: dblink_exec, a smuggled COMMIT, pg_terminate_backend, pg_advisory_lock, a writing CTE, nextval, SELECT INTO, a user function', async (t) => {
  const db = await createTestDatabase('zd_nowrite');
  await db.knex.raw('CREATE EXTENSION dblink');
  await db.knex.raw('CREATE TABLE audit (id serial PRIMARY KEY, note text)');
  await db.knex.raw('CREATE TABLE items (id int)');
  await db.knex.raw(`CREATE FUNCTION public.sneaky() RETURNS int LANGUAGE sql STABLE AS $$ SELECT 1 $$`);
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url, '{ shadow: false }'), ...SMUGGLERS });
  const victim = new pg.Client({ connectionString: db.url, application_name: 'victim' });
  await victim.connect();
  let victimEnded = false;
  victim.on('error', () => {
    victimEnded = true;
  });
  t.teardown(async () => {
    await victim.end().catch(() => undefined);
    await db.drop();
    await project.remove();
  });
  const before = await snapshot(db.url);

  for (const args of [['migrate:plan', '--json'], ['check', '--json'], ['migrate:status', '--json'], ['migrate:plan', '--pre-deploy']]) {
    const result = await project.run(args);
    t.not(result.stdout, '', `${args.join(' ')}: ${result.stderr}`);
  }

  t.deepEqual(await snapshot(db.url), before);
  t.false(victimEnded);
  t.deepEqual((await victim.query('SELECT 1 AS ok')).rows, [{ ok: 1 }]);
  const locks = await db.knex.raw(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`);
  t.is(locks.rows[0].n, 0);

  // What was recorded instead is shown, and the hidden statements of BEGIN … COMMIT are analysed.
  const plan = JSON.parse((await project.run(['migrate:plan', '--json'])).stdout) as {
    migrations: Array<{ name: string; stage: string | null; statements: Array<{ sql: string; summary: string }> }>;
  };
  const smuggled = plan.migrations.find((m) => m.name === '008_begin_commit.js');
  t.deepEqual(smuggled?.statements.map((s) => s.summary), ['transaction control', 'RENAME TABLE', 'DROP TABLE', 'transaction control']);
  t.is(smuggled?.stage, 'post-deploy');
  const commit = plan.migrations.find((m) => m.name === '002_commit.js');
  t.deepEqual(commit?.statements.map((s) => s.sql), ['SELECT 1', 'COMMIT', "INSERT INTO audit (note) VALUES ('commit')"]);
});

test('a raw BEGIN … COMMIT in a pre-deploy migration is checked like anything else', async (t) => {
  const db = await createTestDatabase('zd_begin');
  await db.knex.raw('CREATE TABLE items (id int)');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url, '{ shadow: false }'),
    'migrations/001_smuggle.js': `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.raw('BEGIN; ALTER TABLE items RENAME TO things; DROP TABLE things; COMMIT;');
exports.down = async () => {};`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const check = await project.run(['check', '--json']);
  t.is(check.code, 1);
  const codes = (JSON.parse(check.stdout) as { findings: Array<{ code: string }> }).findings.map((f) => f.code);
  t.true(codes.includes('rename-table'));
  t.true(codes.includes('drop-in-pre-deploy'));
});

test('a migration that branches on the dialect sees pg during analysis, and its PostgreSQL branch is planned', async (t) => {
  const db = await createTestDatabase('zd_dialect');
  await db.knex.raw('CREATE TABLE items (id int, name text)');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url, '{ shadow: false }'),
    'migrations/001_dialect.js': `exports.config = { transaction: false };
exports.up = async (knex) => {
  if (knex.client.config.client.includes('pg') && knex.client.dialect === 'postgresql') {
    await knex.raw('CREATE INDEX CONCURRENTLY items_name_idx ON items (name)');
  } else {
    await knex.schema.alterTable('items', (t) => t.index('name'));
  }
};
exports.down = (knex) => knex.raw('DROP INDEX CONCURRENTLY items_name_idx');`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const plan = await project.run(['migrate:plan', '--json']);
  t.is(plan.code, 0, plan.stderr);
  const parsed = JSON.parse(plan.stdout) as { migrations: Array<{ statements: Array<{ sql: string }> }> };
  t.deepEqual(parsed.migrations[0].statements.map((s) => s.sql), ['CREATE INDEX CONCURRENTLY items_name_idx ON items (name)']);
});

test('a read that depends on a pending change is a clear finding naming zeroDowntime.shadow, not a crash', async (t) => {
  const db = await createTestDatabase('zd_readpending');
  await db.knex.raw('CREATE TABLE items (id int)');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url, '{ shadow: false }'),
    'migrations/001_add.js': `exports.up = async (knex) => {
  await knex.schema.alterTable('items', (t) => t.timestamp('updated_time'));
  const rows = await knex('items').where('updated_time', '<', knex.fn.now()).select('id');
  for (const row of rows) await knex('items').where({ id: row.id }).del();
};
exports.down = async () => {};`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const check = await project.run(['check']);
  t.is(check.code, 1);
  t.regex(check.stdout, /\[migration-error\] 001_add\.js/);
  t.regex(check.stdout, /column "updated_time" does not exist/);
  t.regex(check.stdout, /zeroDowntime\.shadow/);
});
