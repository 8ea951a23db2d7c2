/**
 * `migrate:down` without a name reverts exactly the migration that it analysed and checked: the
 * last one applied. After `--pre-deploy` skipped a post-deploy migration, the last applied is not
 * the last in file order (knex's own default), and reverting the other one ran its
 * `DROP INDEX CONCURRENTLY` inside a transaction.
 */
import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource } from '../../helpers/project.js';

const MIGRATIONS = {
  'migrations/001_create_items.js': `
exports.up = (knex) => knex.schema.createTable('items', (t) => { t.increments('id'); t.text('name'); t.text('legacy'); });
exports.down = (knex) => knex.schema.dropTable('items');
`,
  'migrations/002_drop_legacy.js': `
exports.up = (knex) => knex.schema.alterTable('items', (t) => { t.dropColumn('legacy'); });
exports.down = (knex) => knex.schema.alterTable('items', (t) => { t.text('legacy'); });
`,
  'migrations/003_index_name.js': `
exports.up = (knex) => knex.raw('CREATE INDEX CONCURRENTLY items_name_idx ON items (name)');
exports.down = (knex) => knex.raw('DROP INDEX CONCURRENTLY items_name_idx');
`,
};

test('migrate:down reverts the migration applied last, the one it checked, not the last one in file order', async (t) => {
  const db = await createTestDatabase('zd_down');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url), 'migrations/001_create_items.js': MIGRATIONS['migrations/001_create_items.js'] });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  t.is((await project.run(['migrate:latest'])).code, 0);
  await project.write('migrations/002_drop_legacy.js', MIGRATIONS['migrations/002_drop_legacy.js']);
  await project.write('migrations/003_index_name.js', MIGRATIONS['migrations/003_index_name.js']);

  // Pre-deploy applies 003 (the index) and skips 002 (a drop); after the roll-out, 002 is applied last.
  const pre = await project.run(['migrate:latest', '--pre-deploy']);
  t.is(pre.code, 0, pre.stderr);
  const post = await project.run(['migrate:latest']);
  t.is(post.code, 0, post.stderr);
  const order = async () => (await db.knex('knex_migrations').orderBy('id').pluck('name')) as string[];
  t.deepEqual(await order(), ['001_create_items.js', '003_index_name.js', '002_drop_legacy.js']);

  const down = await project.run(['migrate:down']);
  t.is(down.code, 0, down.stderr);
  t.is(down.stdout.trim(), 'Reverted: 002_drop_legacy.js');
  t.deepEqual(await order(), ['001_create_items.js', '003_index_name.js']);
  t.true(await db.knex.schema.hasColumn('items', 'legacy'), '002 was reverted');
  const index = await db.knex.raw(`SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'items_name_idx'`);
  t.deepEqual(index.rows, [{ n: 1 }], '003 was not touched');

  // The next one down is 003, whose DROP INDEX CONCURRENTLY knex-zd runs outside a transaction.
  const next = await project.run(['migrate:down']);
  t.is(next.code, 0, next.stderr);
  t.is(next.stdout.trim(), 'Reverted: 003_index_name.js');
  const gone = await db.knex.raw(`SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'items_name_idx'`);
  t.deepEqual(gone.rows, [{ n: 0 }]);
});
