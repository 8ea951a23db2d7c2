import test from 'ava';
import knexFactory from 'knex';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource } from '../../helpers/project.js';

test('a migration blocked by a long transaction times out, retries, and names the blocker; then succeeds once it ends', async (t) => {
  const db = await createTestDatabase('zd_timeout');
  await db.knex.schema.createTable('accounts', (table) => {
    table.increments('id');
  });
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url, `{ timeouts: { backoff: 100, maxBackoff: 200 } }`),
    'migrations/001_add_email.js': `
exports.up = (knex) => knex.schema.alterTable('accounts', (t) => { t.text('email'); });
exports.down = (knex) => knex.schema.alterTable('accounts', (t) => { t.dropColumn('email'); });
`,
  });
  const blocker = knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: 1 } });
  t.teardown(async () => {
    await blocker.destroy();
    await db.drop();
    await project.remove();
  });

  const trx = await blocker.transaction();
  await trx.raw('LOCK TABLE accounts IN ACCESS SHARE MODE');
  await trx.raw('SELECT 1 AS "long running report"');
  const blocked = await project.run(['migrate:latest', '--lock-timeout', '200ms', '--retries', '2']);
  t.is(blocked.code, 1);
  t.regex(blocked.stderr, /001_add_email\.js/);
  t.regex(blocked.stderr, /lock/i);
  t.regex(blocked.stderr, /pid \d+/);
  t.false(await db.knex.schema.hasColumn('accounts', 'email'));
  await trx.commit();

  const after = await project.run(['migrate:latest', '--lock-timeout', '200ms']);
  t.is(after.code, 0, after.stderr);
  t.true(await db.knex.schema.hasColumn('accounts', 'email'));
});
