import test, { type ExecutionContext } from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource } from '../../helpers/project.js';

// Two years of plain knex: a table, then a blocking index on it (applied long ago), then
// today's pending migration, which is safe.
const HISTORY = {
  'migrations/001_create_orders.js': `
exports.up = (knex) => knex.schema.createTable('orders', (t) => { t.increments('id'); t.integer('customer_id'); });
exports.down = (knex) => knex.schema.dropTable('orders');
`,
  'migrations/002_index_customer.js': `
exports.up = (knex) => knex.schema.alterTable('orders', (t) => { t.index(['customer_id']); });
exports.down = (knex) => knex.schema.alterTable('orders', (t) => { t.dropIndex(['customer_id']); });
`,
};
const PENDING = {
  'migrations/003_add_note.js': `
exports.up = (knex) => knex.schema.alterTable('orders', (t) => { t.text('note'); });
exports.down = (knex) => knex.schema.alterTable('orders', (t) => { t.dropColumn('note'); });
`,
};

async function adopted(t: ExecutionContext, zeroDowntime: string) {
  const db = await createTestDatabase('zd_baseline');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url, zeroDowntime), ...HISTORY });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  // The history was applied by plain knex, before the project adopted knex-zd.
  await db.knex.migrate.latest({ directory: `${project.dir}/migrations` });
  for (const [file, content] of Object.entries(PENDING)) await project.write(file, content);
  return { db, project };
}

test('without a baseline, check fails on day one because of a migration applied long ago', async (t) => {
  const { project } = await adopted(t, '{ shadow: false, checks: { smallTable: 0 } }');
  const check = await project.run(['check']);
  t.is(check.code, 1, check.stdout);
  t.regex(check.stdout, /\[create-index-blocking\] 002_index_customer\.js/);
});

test('startAfter exempts the history from check, migrate:plan and migrate:latest, and migrate:status still lists it', async (t) => {
  const { db, project } = await adopted(t, "{ shadow: false, checks: { smallTable: 0 }, startAfter: '002_index_customer.js' }");
  const check = await project.run(['check']);
  t.is(check.code, 0, check.stdout + check.stderr);
  t.regex(check.stdout, /2 migrations up to 002_index_customer\.js are the baseline \(zeroDowntime\.startAfter\): not checked\./);
  t.regex(check.stdout, /Checked 1 migration: /);

  const json = JSON.parse((await project.run(['check', '--json'])).stdout);
  t.deepEqual(json.exempt, ['001_create_orders.js', '002_index_customer.js']);
  t.deepEqual(
    json.migrations.map((m: { name: string; baseline: boolean }) => [m.name, m.baseline]),
    [['001_create_orders.js', true], ['002_index_customer.js', true], ['003_add_note.js', false]],
  );

  const status = await project.run(['migrate:status', '--json']);
  t.deepEqual(
    JSON.parse(status.stdout).migrations.map((m: { name: string; state: string; baseline: boolean }) => [m.name, m.state, m.baseline]),
    [['001_create_orders.js', 'completed', true], ['002_index_customer.js', 'completed', true], ['003_add_note.js', 'pending', false]],
  );
  const text = (await project.run(['migrate:status'])).stdout;
  t.regex(text, /002_index_customer\.js\s+completed \(baseline\)/);
  t.regex(text, /2 in the baseline \(zeroDowntime\.startAfter\), not checked\./);

  const latest = await project.run(['migrate:latest', '--pre-deploy']);
  t.is(latest.code, 0, latest.stderr);
  t.deepEqual(await db.knex('knex_migrations').orderBy('id').pluck('name'), ['001_create_orders.js', '002_index_customer.js', '003_add_note.js']);
});

test('the baseline applies on an empty database too: the whole history runs, unchecked, then the rest is checked', async (t) => {
  const db = await createTestDatabase('zd_baseline');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url, "{ checks: { smallTable: 0 }, startAfter: '002_index_customer' }"),
    ...HISTORY,
    ...PENDING,
    'migrations/004_index_note.js': `
exports.up = (knex) => knex.schema.alterTable('orders', (t) => { t.index(['note']); });
exports.down = (knex) => knex.schema.alterTable('orders', (t) => { t.dropIndex(['note']); });
`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const plan = await project.run(['migrate:plan', '--json']);
  const doc = JSON.parse(plan.stdout);
  t.deepEqual(doc.exempt, ['001_create_orders.js', '002_index_customer.js']);
  t.deepEqual([...new Set(doc.findings.filter((f: { severity: string }) => f.severity === 'error').map((f: { migration: string }) => f.migration))], ['004_index_note.js']);
  t.is((await project.run(['migrate:latest'])).code, 1);
  t.deepEqual(await db.knex('knex_migrations').pluck('name').catch(() => []), []);
});

test('check --pending checks only what is pending, against the current schema', async (t) => {
  const { project } = await adopted(t, '{ checks: { smallTable: 0 } }');
  const pending = await project.run(['check', '--pending', '--json']);
  t.is(pending.code, 0, pending.stdout + pending.stderr);
  t.deepEqual(JSON.parse(pending.stdout).migrations.map((m: { name: string }) => m.name), ['003_add_note.js']);
  t.is((await project.run(['check', '--json'])).code, 1);
});

test('a startAfter that names no migration file is a config error (exit 2) that names it', async (t) => {
  const { db, project } = await adopted(t, "{ shadow: false, startAfter: '002_index_custmer.js' }");
  for (const args of [['check'], ['migrate:latest'], ['migrate:status']]) {
    const run = await project.run(args);
    t.is(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    t.regex(run.stderr, /zeroDowntime\.startAfter is "002_index_custmer\.js", which is not a migration in the migrations directory \(\.\/migrations\)/);
  }
  t.deepEqual(await db.knex('knex_migrations').orderBy('id').pluck('name'), ['001_create_orders.js', '002_index_customer.js']);
});

test('migrate:status takes the stages of completed migrations from capture mode, each against the current schema (never the whole history in a shadow)', async (t) => {
  const db = await createTestDatabase('zd_baseline');
  // A table no migration created: the history cannot be replayed from an empty database.
  await db.knex.raw('CREATE TABLE legacy (id int PRIMARY KEY)');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url, '{}'),
    'migrations/001_legacy_note.js': `
exports.up = async (knex) => {
  await knex('legacy').first();
  await knex.schema.alterTable('legacy', (t) => { t.text('note'); });
};
exports.down = (knex) => knex.schema.alterTable('legacy', (t) => { t.dropColumn('note'); });
`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await db.knex.migrate.latest({ directory: `${project.dir}/migrations` });
  await project.write(
    'migrations/002_legacy_flag.js',
    `
exports.up = (knex) => knex.schema.alterTable('legacy', (t) => { t.boolean('flag'); });
exports.down = (knex) => knex.schema.alterTable('legacy', (t) => { t.dropColumn('flag'); });
`,
  );
  const status = await project.run(['migrate:status', '--json']);
  t.is(status.code, 0, status.stderr);
  t.deepEqual(
    JSON.parse(status.stdout).migrations.map((m: { name: string; state: string; stage: string; stageSource: string }) => [m.name, m.state, m.stage, m.stageSource]),
    [
      ['001_legacy_note.js', 'completed', 'pre-deploy', 'inferred'],
      ['002_legacy_flag.js', 'pending', 'pre-deploy', 'inferred'],
    ],
  );
});
