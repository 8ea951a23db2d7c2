import test from 'ava';
import knexFactory from 'knex';
import pg from 'pg';
import { createProject, knexfileSource } from '../../helpers/project.js';
import { startSecondPostgres } from '../../helpers/second-postgres.js';
import { BASELINE, snapshot } from './support.js';

test("pg_stat_statements: the normalized queries the target has seen are the old code's, checked like any other", async (t) => {
  // The shared server here does not preload pg_stat_statements: a PostgreSQL 17 of our own does.
  const server = await startSecondPostgres({ shared_preload_libraries: 'pg_stat_statements' });
  t.teardown(() => server.stop());
  const admin = new pg.Client({ connectionString: server.url() });
  await admin.connect();
  await admin.query('CREATE DATABASE shop');
  await admin.end();
  const url = server.url('shop');
  const project = await createProject({ 'knexfile.js': knexfileSource(url), ...BASELINE });
  t.teardown(() => project.remove());
  const baseline = await project.run(['migrate:latest']);
  t.is(baseline.code, 0, baseline.stderr);

  const app = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  try {
    await app.raw('CREATE EXTENSION pg_stat_statements');
    await app.raw('SELECT pg_stat_statements_reset()');
    // The old release in production: it reads and writes users by name.
    for (let i = 0; i < 3; i++) await app('users').where('id', i).first('id', 'name');
    await app('users').insert({ name: 'Linus', legacy_name: 'linus' });
    // pg_stat_statements normalizes SAVEPOINT names too (`SAVEPOINT $1`, which does not parse): left out.
    await app.transaction(async (trx) => trx.transaction(async (savepoint) => savepoint('users').first('id')));
    // A literal is normalized to $1 too.
    await app.raw("SELECT count(*) FROM users WHERE legacy_name = 'ada'");
  } finally {
    await app.destroy();
  }

  await project.write(
    'migrations/20250201000000_rename_name.js',
    `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('name', 'full_name'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('full_name', 'name'); });
`,
  );
  await project.write(
    'migrations/20250201000001_drop_legacy_name.js',
    `exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('legacy_name'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.string('legacy_name'); });
`,
  );
  const before = await snapshot(url);
  const result = await project.run(['verify', '--old-queries', 'pg_stat_statements', '--json']);
  t.is(result.code, 1, result.stderr + result.stdout);
  const report = JSON.parse(result.stdout) as { queries: Array<{ origin: string; sql: string; verdict: string; failure: { after: string; sqlState: string; message: string } | null }> };
  const find = (pattern: RegExp) => report.queries.find((q) => pattern.test(q.sql));
  const select = find(/^select "id", "name" from "users" where "id" = \$1 limit \$2$/);
  t.is(select?.origin, 'pg_stat_statements (3 calls)');
  t.is(select?.verdict, 'breaks');
  t.deepEqual(select?.failure && [select.failure.after, select.failure.sqlState, select.failure.message], ['20250201000000_rename_name.js', '42703', 'column "name" does not exist']);
  const insert = find(/^insert into "users" \("legacy_name", "name"\) values \(\$1, \$2\)$/);
  t.is(insert?.verdict, 'breaks');
  const count = find(/^SELECT count\(\*\) FROM users WHERE legacy_name = \$1$/);
  t.is(count?.verdict, 'breaks-after-roll-out');
  t.is(count?.failure?.after, '20250201000001_drop_legacy_name.js');
  t.false(report.queries.some((q) => /^(BEGIN|COMMIT|CREATE|ALTER|SAVEPOINT|RELEASE)/i.test(q.sql)), 'statements PREPARE cannot take are left out');
  t.false(report.queries.some((q) => q.verdict === 'syntax-error'));
  t.deepEqual(await snapshot(url), before, 'the target database is unchanged');
});
