import test from 'ava';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource, type TestProject } from '../../helpers/project.js';

const BASELINE = {
  'migrations/20250101000000_create_users.js': `
exports.up = (knex) => knex.schema.createTable('users', (t) => {
  t.increments('id');
  t.string('name').notNullable();
  t.string('legacy_name');
});
exports.down = (knex) => knex.schema.dropTable('users');
`,
};

const RELEASE = {
  'migrations/20250201000000_add_email.js': `
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.string('email'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('email'); });
`,
  'migrations/20250201000001_drop_legacy_name.js': `
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('legacy_name'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.string('legacy_name'); });
`,
  'migrations/20250201000002_index_email.js': `
exports.up = (knex) => knex.raw('CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email)');
exports.down = (knex) => knex.raw('DROP INDEX CONCURRENTLY IF EXISTS users_email_idx');
`,
};

async function setup(files: Record<string, string>, zeroDowntime = '{}'): Promise<{ db: TestDatabase; project: TestProject }> {
  const db = await createTestDatabase('zd_cli');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url, zeroDowntime), ...files });
  return { db, project };
}

async function applied(db: TestDatabase): Promise<string[]> {
  const rows = await db.knex('knex_migrations').select('name').orderBy('id');
  return rows.map((r: { name: string }) => r.name.replace(/^\d+_/, ''));
}

async function columns(db: TestDatabase, table: string): Promise<string[]> {
  const rows = await db.knex('information_schema.columns').where({ table_name: table }).orderBy('ordinal_position').pluck('column_name');
  return rows as string[];
}

test('a release goes through pre-deploy, post-deploy, then rollback', async (t) => {
  const { db, project } = await setup(BASELINE);
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });

  const baseline = await project.run(['migrate:latest']);
  t.is(baseline.code, 0, baseline.stderr);
  t.deepEqual(await applied(db), ['create_users.js']);

  for (const [file, content] of Object.entries(RELEASE)) await project.write(file, content);

  const pre = await project.run(['migrate:latest', '--pre-deploy']);
  t.is(pre.code, 0, pre.stderr);
  t.regex(pre.stdout, /applied 2 pre-deploy migrations/);
  t.regex(pre.stdout, /1 post-deploy migration left for after the roll-out/);
  t.deepEqual(await applied(db), ['create_users.js', 'add_email.js', 'index_email.js']);
  t.deepEqual(await columns(db, 'users'), ['id', 'name', 'legacy_name', 'email']);
  const index = await db.knex.raw(`select i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'users_email_idx'`);
  t.deepEqual(index.rows, [{ indisvalid: true }]);

  const again = await project.run(['migrate:latest', '--pre-deploy']);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /no pending pre-deploy migrations/);

  const post = await project.run(['migrate:latest']);
  t.is(post.code, 0, post.stderr);
  t.deepEqual(await applied(db), ['create_users.js', 'add_email.js', 'index_email.js', 'drop_legacy_name.js']);
  t.deepEqual(await columns(db, 'users'), ['id', 'name', 'email']);

  const rollback = await project.run(['migrate:rollback']);
  t.is(rollback.code, 0, rollback.stderr);
  t.deepEqual(await applied(db), ['create_users.js', 'add_email.js', 'index_email.js']);
  t.deepEqual(await columns(db, 'users'), ['id', 'name', 'email', 'legacy_name']);
});

test('rollback --pre-deploy reverts only post-deploy work, in reverse order', async (t) => {
  const { db, project } = await setup({ ...BASELINE, ...RELEASE });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  t.is((await project.run(['migrate:latest'])).code, 0);

  const plan = await project.run(['migrate:plan', '--rollback', '--pre-deploy', '--json']);
  t.is(plan.code, 0, plan.stderr);
  const parsed = JSON.parse(plan.stdout);
  t.deepEqual(parsed.migrations.map((m: { name: string }) => m.name), ['20250201000001_drop_legacy_name.js']);
  t.is(parsed.migrations[0].stage, 'pre-deploy');

  const pre = await project.run(['migrate:rollback', '--pre-deploy']);
  t.is(pre.code, 0, pre.stderr);
  t.deepEqual(await applied(db), ['create_users.js', 'add_email.js', 'index_email.js']);
  t.true((await columns(db, 'users')).includes('legacy_name'));

  const rest = await project.run(['migrate:rollback']);
  t.is(rest.code, 0, rest.stderr);
  t.deepEqual(await applied(db), []);
});

test('migrate:plan shows stages, SQL and locks, and writes nothing', async (t) => {
  const { db, project } = await setup({ ...BASELINE });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  t.is((await project.run(['migrate:latest'])).code, 0);
  for (const [file, content] of Object.entries(RELEASE)) await project.write(file, content);
  await project.write(
    'migrations/20250201000003_backfill_if_missing.js',
    `exports.config = { stage: 'pre-deploy' };
exports.up = async (knex) => {
  if (!(await knex.schema.hasColumn('users', 'nickname'))) {
    await knex.schema.alterTable('users', (t) => { t.string('nickname'); });
  }
  await knex('users').update({ nickname: knex.ref('name') });
};
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('nickname'); });
`,
  );

  const snapshot = async () => ({
    catalog: (await db.knex.raw(`select count(*)::int as n from pg_class where relnamespace = 'public'::regnamespace`)).rows,
    columns: await columns(db, 'users'),
    migrations: await applied(db),
  });
  const before = await snapshot();
  const plan = await project.run(['migrate:plan', '--pre-deploy', '--json']);
  t.is(plan.code, 0, plan.stderr);
  t.deepEqual(await snapshot(), before);

  const parsed = JSON.parse(plan.stdout);
  t.is(parsed.stage, 'pre-deploy');
  t.deepEqual(parsed.migrations.map((m: { name: string }) => m.name), [
    '20250201000000_add_email.js',
    '20250201000002_index_email.js',
    '20250201000003_backfill_if_missing.js',
  ]);
  t.deepEqual(parsed.skipped, [{ name: '20250201000001_drop_legacy_name.js', stage: 'post-deploy', stageSource: 'inferred' }]);
  const [addEmail, index, backfill] = parsed.migrations;
  t.is(addEmail.stageSource, 'inferred');
  t.is(addEmail.statements[0].lock, 'ACCESS EXCLUSIVE');
  t.regex(addEmail.statements[0].sql, /alter table "users" add column "email" varchar\(255\)/);
  t.false(index.transaction);
  t.is(index.statements[0].lock, 'SHARE UPDATE EXCLUSIVE');
  // The migration read the catalog for real (the column is missing), so it plans the ALTER and the UPDATE.
  t.is(backfill.stageSource, 'file');
  t.deepEqual(
    backfill.statements.map((s: { summary: string }) => s.summary.split(' ')[0]),
    ['ALTER', 'UPDATE'],
  );

  const human = await project.run(['migrate:plan', '--pre-deploy']);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /3 pre-deploy migrations to apply/);
  t.regex(human.stdout, /20250201000001_drop_legacy_name\.js {2}post-deploy/);
});

test('a pre-deploy migration that depends on a skipped post-deploy one is refused, naming both', async (t) => {
  const { db, project } = await setup({
    ...BASELINE,
    'migrations/20250201000000_drop_legacy_name.js': RELEASE['migrations/20250201000001_drop_legacy_name.js'],
    'migrations/20250201000001_readd_legacy_name.js': `
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.text('legacy_name'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('legacy_name'); });
`,
    'migrations/20250201000002_add_email.js': RELEASE['migrations/20250201000000_add_email.js'],
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  t.is((await project.run(['migrate:up'])).code, 0);

  const pre = await project.run(['migrate:latest', '--pre-deploy']);
  t.is(pre.code, 1);
  t.regex(pre.stderr, /20250201000001_readd_legacy_name\.js is pre-deploy, but it comes after 20250201000000_drop_legacy_name\.js/);
  t.regex(pre.stderr, /users\.legacy_name/);
  t.notRegex(pre.stderr, /add_email/);
  t.deepEqual(await applied(db), ['create_users.js']);
});

test('every migrate command refuses an ambiguous migration before touching the database', async (t) => {
  const { db, project } = await setup({
    'migrations/20240101000000_accounts.js': `
exports.up = async (knex) => {
  await knex.schema.createTable('accounts', (t) => { t.increments('id'); });
  await knex.schema.createTable('legacy_accounts', (t) => { t.increments('id'); });
};
exports.down = async (knex) => { await knex.schema.dropTable('legacy_accounts'); await knex.schema.dropTable('accounts'); };
`,
    'migrations/20250101000000_mixed.js': `
exports.up = async (knex) => {
  await knex.schema.alterTable('accounts', (t) => { t.string('email'); });
  await knex.schema.dropTable('legacy_accounts');
};
exports.down = () => {};
`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  t.is((await project.run(['migrate:up'])).code, 0);
  const schema = async () =>
    (await db.knex.raw(`select table_name, column_name from information_schema.columns where table_schema = 'public' order by 1, 2`)).rows;
  const before = await schema();
  for (const args of [['migrate:latest'], ['migrate:latest', '--pre-deploy'], ['migrate:up']]) {
    const result = await project.run(args);
    t.is(result.code, 1, args.join(' '));
    t.regex(result.stderr, /\[ambiguous-stage\] 20250101000000_mixed\.js: 20250101000000_mixed\.js mixes pre-deploy statements/);
    // A CommonJS migration file: the hint is written for it.
    t.regex(result.stderr, /exports\.config = \{ stage: 'pre-deploy' \}/);
  }
  t.deepEqual(await schema(), before);
  t.deepEqual(await applied(db), ['accounts.js']);

  const check = await project.run(['check', '--json']);
  t.is(check.code, 1);
  const parsed = JSON.parse(check.stdout);
  t.deepEqual(parsed.findings.map((f: { code: string }) => f.code), ['ambiguous-stage']);
});

test('the stage of the file wins, then the knexfile override, then inference, then the fallback', async (t) => {
  const { db, project } = await setup(
    {
      'migrations/001_declared.js': `exports.config = { stage: 'post-deploy' };
exports.up = (knex) => knex.schema.createTable('declared', (t) => { t.increments('id'); });
exports.down = (knex) => knex.schema.dropTable('declared');`,
      'migrations/002_overridden.js': `exports.up = (knex) => knex.schema.createTable('overridden', (t) => { t.increments('id'); });
exports.down = (knex) => knex.schema.dropTable('overridden');`,
      'migrations/003_inferred.js': `exports.up = (knex) => knex.schema.createTable('inferred', (t) => { t.increments('id'); });
exports.down = (knex) => knex.schema.dropTable('inferred');`,
      'migrations/004_data_only.js': `exports.up = (knex) => knex.raw('select 1');
exports.down = () => {};`,
    },
    `{ stages: { override: { '002_overridden.js': 'post-deploy' }, fallback: 'pre-deploy' } }`,
  );
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const status = await project.run(['migrate:status', '--json']);
  t.is(status.code, 0, status.stderr);
  t.deepEqual(
    JSON.parse(status.stdout).migrations.map((m: { name: string; stage: string; stageSource: string }) => [m.name, m.stage, m.stageSource]),
    [
      ['001_declared.js', 'post-deploy', 'file'],
      ['002_overridden.js', 'post-deploy', 'override'],
      ['003_inferred.js', 'pre-deploy', 'inferred'],
      ['004_data_only.js', 'pre-deploy', 'fallback'],
    ],
  );
  const human = await project.run(['migrate:list']);
  t.regex(human.stdout, /Migration\s+State\s+Batch\s+Stage/);
  t.regex(human.stdout, /003_inferred\.js\s+pending\s+pre-deploy \(inferred\)/);
});

test('a data-only migration is pre-deploy by default; fallback: null makes it an error; a mix is never resolved by the fallback', async (t) => {
  const files = {
    'migrations/001_table.js': `exports.up = (knex) => knex.schema.createTable('items', (t) => { t.increments('id'); t.string('name'); t.string('old'); });
exports.down = (knex) => knex.schema.dropTable('items');`,
    'migrations/002_data_only.js': `exports.up = (knex) => knex('items').insert({ name: 'first' });
exports.down = (knex) => knex('items').where({ name: 'first' }).del();`,
  };
  const mixed = {
    'migrations/003_mixed.js': `exports.up = (knex) => knex.schema.alterTable('items', (t) => { t.string('added'); t.dropColumn('old'); });
exports.down = () => {};`,
  };
  const byDefault = await setup(files);
  const strict = await setup(files, '{ stages: { fallback: null } }');
  const mixedWithFallback = await setup({ ...files, ...mixed }, `{ stages: { fallback: 'pre-deploy' } }`);
  t.teardown(async () => {
    for (const { db, project } of [byDefault, strict, mixedWithFallback]) {
      await db.drop();
      await project.remove();
    }
  });

  const status = await byDefault.project.run(['migrate:status', '--json']);
  t.is(status.code, 0, status.stderr);
  t.deepEqual(
    JSON.parse(status.stdout).migrations.map((m: { name: string; stage: string; stageSource: string }) => [m.name, m.stage, m.stageSource]),
    [
      ['001_table.js', 'pre-deploy', 'inferred'],
      ['002_data_only.js', 'pre-deploy', 'default'],
    ],
  );
  const pre = await byDefault.project.run(['migrate:latest', '--pre-deploy']);
  t.is(pre.code, 0, pre.stderr);
  t.deepEqual(await applied(byDefault.db), ['table.js', 'data_only.js']);

  const refused = await strict.project.run(['migrate:latest', '--pre-deploy']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /\[ambiguous-stage\] 002_data_only\.js: 002_data_only\.js runs no statement that decides a stage .* sets stages\.fallback: null/);

  const ambiguous = await mixedWithFallback.project.run(['check', '--json']);
  t.is(ambiguous.code, 1);
  const findings = JSON.parse(ambiguous.stdout).findings as Array<{ code: string; migration: string }>;
  t.deepEqual(findings.map((f) => [f.code, f.migration]), [['ambiguous-stage', '003_mixed.js']]);
});
