import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource } from '../../helpers/project.js';

const BASE = {
  'migrations/001_create_orders.js': `
exports.up = (knex) => knex.schema.createTable('orders', (t) => { t.increments('id'); t.integer('customer_id'); t.text('status'); });
exports.down = (knex) => knex.schema.dropTable('orders');
`,
};

const BLOCKING_INDEX = {
  'migrations/002_index_customer.js': `
exports.up = (knex) => knex.schema.alterTable('orders', (t) => { t.index(['customer_id']); });
exports.down = (knex) => knex.schema.alterTable('orders', (t) => { t.dropIndex(['customer_id']); });
`,
};

test('a blocking index build is refused with the safe alternative, and an explicit opt-out lets it run', async (t) => {
  const db = await createTestDatabase('zd_unsafe');
  // smallTable: 0, since orders is empty here and an index on an empty table would only be a note.
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url, '{ checks: { smallTable: 0 } }'), ...BASE });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  t.is((await project.run(['migrate:latest'])).code, 0);
  for (const [file, content] of Object.entries(BLOCKING_INDEX)) await project.write(file, content);

  const refused = await project.run(['migrate:latest', '--pre-deploy']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /\[create-index-blocking\] 002_index_customer\.js/);
  t.regex(refused.stderr, /addIndexConcurrently\(knex, 'orders', \['customer_id'\]/);
  t.deepEqual(await db.knex('knex_migrations').pluck('name'), ['001_create_orders.js']);

  const check = await project.run(['check', '--json']);
  t.is(check.code, 1);
  t.true(JSON.parse(check.stdout).findings.some((f: { code: string }) => f.code === 'create-index-blocking'));

  await project.write(
    'migrations/002_index_customer.js',
    `exports.config = { allowUnsafe: { 'create-index-blocking': 'orders is tiny, reviewed in PR #123' } };\n${BLOCKING_INDEX['migrations/002_index_customer.js']}`,
  );
  const allowed = await project.run(['migrate:latest', '--pre-deploy']);
  t.is(allowed.code, 0, allowed.stderr);
});

test('zeroDowntime.checks turns an unsafe finding into a warning', async (t) => {
  const db = await createTestDatabase('zd_unsafe');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url, `{ checks: { 'create-index-blocking': 'warning', smallTable: 0 } }`),
    ...BASE,
    ...BLOCKING_INDEX,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  t.is((await project.run(['migrate:up'])).code, 0);
  const check = await project.run(['check']);
  t.is(check.code, 0, check.stdout);
  t.regex(check.stdout, /warning \[create-index-blocking\] 002_index_customer\.js/);
  t.is((await project.run(['migrate:latest'])).code, 0);
});
