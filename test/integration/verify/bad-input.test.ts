import { randomBytes } from 'node:crypto';
import test from 'ava';
import knexFactory from 'knex';
import { createTestDatabase, PG_SERVER_URL } from '../../helpers/db.js';
import { createProject, knexfileSource } from '../../helpers/project.js';
import { OLD_SQL, baselineProject, snapshot } from './support.js';

const RENAME = `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('name', 'full_name'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('full_name', 'name'); });
`;

test('an unknown SOURCE, a missing file, no SOURCE at all: exit 2 before connecting', async (t) => {
  const project = await createProject({ 'knexfile.js': knexfileSource('postgres://postgres@127.0.0.1:1/nowhere') });
  t.teardown(() => project.remove());
  const unknown = await project.run(['verify', '--old-queries', 'queries.txt']);
  t.is(unknown.code, 2);
  t.is(unknown.stderr.trim(), 'Error: --old-queries "queries.txt": a SOURCE is a .sql file (statements separated by ;), a .jsonl file (written by recordQueries), or the word pg_stat_statements.');
  const missing = await project.run(['verify', '--old-queries', 'old.sql']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /^Error: --old-queries old\.sql: no such file \(looked for .*old\.sql\)\.$/m);
  const none = await project.run(['verify']);
  t.is(none.code, 2);
  t.regex(none.stderr, /verify needs --old-queries SOURCE/);
});

test('a query file that does not parse is named with its line: exit 2, nothing touched', async (t) => {
  const { db, project } = await baselineProject();
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await project.write('migrations/20250201000000_rename_name.js', RENAME);
  await project.write('old.sql', "select 1;\n\nselect 'unterminated from users;\n");
  await project.write('old.jsonl', '{"sql":"select 1"}\nselect 2\n');
  const before = await snapshot(db.url);
  const sql = await project.run(['verify', '--old-queries', 'old.sql']);
  t.is(sql.code, 2);
  t.is(sql.stderr.trim(), 'Error: old.sql:3: unterminated quoted string at or near "\'unterminated from users; ". The file cannot be split into statements; nothing was checked.');
  const jsonl = await project.run(['verify', '--old-queries', 'old.jsonl']);
  t.is(jsonl.code, 2);
  t.regex(jsonl.stderr, /^Error: old\.jsonl:2: not a JSON line \(.*\)\. Each line is \{ "sql": "\.\.\.", "bindings": \[\.\.\.\] \}, as recordQueries writes it; nothing was checked\.$/m);
  const flag = await project.run(['migrate:latest', '--pre-deploy', '--verify-queries', 'old.jsonl']);
  t.is(flag.code, 2);
  t.deepEqual(await snapshot(db.url), before);
});

test('without a shadow database verify cannot prepare anything: exit 2, saying why and what to do', async (t) => {
  const { db, project } = await baselineProject('{ shadow: false }');
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await project.write('migrations/20250201000000_rename_name.js', RENAME);
  await project.write('old.sql', OLD_SQL);
  const before = await snapshot(db.url);
  const result = await project.run(['verify', '--old-queries', 'old.sql']);
  t.is(result.code, 2);
  t.is(
    result.stderr.trim(),
    'Error: verify needs a shadow database, and there is none: zeroDowntime.shadow is false. It prepares each query against the schema after each migration, ' +
      'which capture mode cannot do. Give the role CREATEDB (knex-zd then creates a temporary database and drops it), or set ' +
      "zeroDowntime.shadow to the URL of an empty scratch database (e.g. shadow: 'postgres://deploy@db/app_shadow'). Nothing was changed.",
  );
  const refused = await project.run(['migrate:latest', '--pre-deploy', '--verify-queries', 'old.sql']);
  t.is(refused.code, 2);
  t.deepEqual(await snapshot(db.url), before);
});

test('a role that may not create databases, and no scratch database: exit 2, nothing touched', async (t) => {
  const db = await createTestDatabase('zd_verify');
  const role = `zd_verify_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: PG_SERVER_URL, pool: { min: 0, max: 1 } });
  await admin.raw('CREATE ROLE ?? LOGIN NOCREATEDB', [role]);
  await db.knex.raw('GRANT ALL ON SCHEMA public TO ??', [role]);
  await db.knex.raw('CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)');
  await db.knex.raw('ALTER TABLE users OWNER TO ??', [role]);
  const url = new URL(db.url);
  url.username = role;
  const project = await createProject({
    'knexfile.js': knexfileSource(url.toString()),
    'migrations/20250201000000_add_email.js': `exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.string('email'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('email'); });`,
    'old.sql': 'select id, name from users;\n',
  });
  t.teardown(async () => {
    await db.drop();
    await admin.raw('DROP ROLE IF EXISTS ??', [role]);
    await admin.destroy();
    await project.remove();
  });
  const result = await project.run(['verify', '--old-queries', 'old.sql']);
  t.is(result.code, 2, result.stdout);
  t.regex(result.stderr, /^Error: verify needs a shadow database, and there is none: the role may not create databases \(permission denied to create database\)\. .* Nothing was changed\.$/m);
  const tables = await db.knex.raw(`SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1`);
  t.deepEqual(tables.rows, [{ relname: 'users' }], 'no knex_migrations table or anything else was created');
});

test('pg_stat_statements: a clear message when the extension is not installed, and when the server has not loaded it', async (t) => {
  const { db, project } = await baselineProject();
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const preload = (await db.knex.raw('SHOW shared_preload_libraries')).rows[0].shared_preload_libraries as string;
  const missing = await project.run(['verify', '--old-queries', 'pg_stat_statements']);
  t.is(missing.code, 2);
  t.is(
    missing.stderr.trim(),
    `Error: pg_stat_statements: the extension is not installed in the database ${db.name}. To use it, add pg_stat_statements to shared_preload_libraries (a server restart), ` +
      "then run CREATE EXTENSION pg_stat_statements in the database. Or record the queries with recordQueries() in the application's test run, or list them in a .sql file. Nothing was checked.",
  );
  if (preload.includes('pg_stat_statements')) {
    t.log('this server loads pg_stat_statements: the "not loaded" message is not reachable here');
    return;
  }
  await db.knex.raw('CREATE EXTENSION pg_stat_statements');
  const before = await snapshot(db.url);
  const unloaded = await project.run(['verify', '--old-queries', 'pg_stat_statements']);
  t.is(unloaded.code, 2);
  t.regex(
    unloaded.stderr,
    new RegExp(`^Error: pg_stat_statements: the extension is created in ${db.name} but the server has not loaded it \\(pg_stat_statements must be loaded via "?shared_preload_libraries"?\\)\\. To use it, add pg_stat_statements to shared_preload_libraries`, 'm'),
  );
  t.deepEqual(await snapshot(db.url), before);
});
