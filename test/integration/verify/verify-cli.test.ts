import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { ROOT, createProject, knexfileSource } from '../../helpers/project.js';
import { BASELINE, OLD_SQL, baselineProject, snapshot } from './support.js';

const ADD_EMAIL = `
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.string('email'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('email'); });
`;
const DROP_LEGACY = `
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('legacy_name'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.string('legacy_name'); });
`;

interface JsonQuery {
  side: string;
  origin: string;
  verdict: string;
  needs: string | null;
  failure: { after: string | null; phase: string; sqlState: string; message: string; kind: string; detail?: string } | null;
  results: Array<{ after: string | null; phase: string; ok: boolean | null; sqlState?: string }>;
}

test('a release that adds a column and drops another in post-deploy passes, and names the post-deploy migration the old queries cannot survive; the target is unchanged', async (t) => {
  const { db, project } = await baselineProject();
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await project.write('migrations/20250201000000_add_email.js', ADD_EMAIL);
  await project.write('migrations/20250201000001_drop_legacy_name.js', DROP_LEGACY);
  await project.write('old.sql', OLD_SQL);
  await project.write('new.sql', 'select id, name, email from users where id = $1;\ninsert into users (name, email) values ($1, $2);\n');
  const before = await snapshot(db.url);

  const result = await project.run(['verify', '--old-queries', 'old.sql', '--new-queries', 'new.sql']);
  t.is(result.code, 0, result.stderr + result.stdout);
  const lines = result.stdout.split('\n');
  t.true(lines.includes('  pre-deploy  20250201000000_add_email.js'), result.stdout);
  t.true(lines.includes('  post-deploy 20250201000001_drop_legacy_name.js'), result.stdout);
  t.true(lines.includes('2 old queries stop working after a post-deploy migration (expected: the old code must be gone by then):'), result.stdout);
  t.true(lines.includes('  old SELECT (old.sql:2) fails after 20250201000001_drop_legacy_name.js (post-deploy): 42703 column "legacy_name" does not exist'), result.stdout);
  t.true(lines.includes('  old INSERT (old.sql:3) fails after 20250201000001_drop_legacy_name.js (post-deploy): 42703 column "legacy_name" of relation "users" does not exist'), result.stdout);
  t.true(lines.includes('  Finish the roll-out (no old code running) before knex-zd migrate:latest applies 20250201000001_drop_legacy_name.js.'), result.stdout);
  t.true(lines.includes('  new SELECT (new.sql:1) works after 20250201000000_add_email.js'), result.stdout);
  t.true(lines.includes('OK: the old code survives the pre-deploy migrations and the new code works from the end of the pre-deploy step on.'), result.stdout);
  // The README shows this very output.
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const shown = /The verdict follows the deploy[\s\S]*?```text\n([\s\S]*?)```/.exec(readme)?.[1];
  t.is(result.stdout.trim(), (shown ?? '').trim());

  const json = await project.run(['verify', '--old-queries', 'old.sql', '--new-queries', 'new.sql', '--json']);
  t.is(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { ok: boolean; steps: unknown[]; queries: JsonQuery[] };
  t.true(report.ok);
  t.deepEqual(report.steps, [
    { after: null, phase: 'current' },
    { after: '20250201000000_add_email.js', phase: 'pre-deploy' },
    { after: '20250201000001_drop_legacy_name.js', phase: 'post-deploy' },
  ]);
  t.deepEqual(
    report.queries.map((q) => [q.side, q.origin, q.verdict, q.results.map((r) => r.ok)]),
    [
      ['old', 'old.sql:2', 'breaks-after-roll-out', [true, true, false]],
      ['old', 'old.sql:3', 'breaks-after-roll-out', [true, true, false]],
      ['old', 'old.sql:4', 'ok', [true, true, true]],
      ['new', 'new.sql:1', 'ok', [false, true, true]],
      ['new', 'new.sql:2', 'ok', [false, true, true]],
    ],
  );
  t.deepEqual(report.queries[0].failure, { after: '20250201000001_drop_legacy_name.js', phase: 'post-deploy', kind: 'error', sqlState: '42703', message: 'column "legacy_name" does not exist' });

  t.deepEqual(await snapshot(db.url), before, 'the target database is unchanged');
});

test('a pre-deploy rename breaks the old queries: exit 1, naming the migration, the SQLSTATE and the message; nothing is changed', async (t) => {
  const { db, project } = await baselineProject();
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await project.write(
    'migrations/20250201000000_rename_name.js',
    `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('name', 'full_name'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('full_name', 'name'); });
`,
  );
  await project.write('old.sql', OLD_SQL);
  const before = await snapshot(db.url);
  const result = await project.run(['verify', '--old-queries', 'old.sql']);
  t.is(result.code, 1, result.stderr + result.stdout);
  const lines = result.stdout.split('\n');
  t.true(lines.includes('3 queries would break during the deploy:'), result.stdout);
  t.true(
    lines.includes('  old SELECT (old.sql:2) fails after 20250201000000_rename_name.js (pre-deploy), while the old code still runs: 42703 column "name" does not exist'),
    result.stdout,
  );
  t.true(
    lines.includes('  old INSERT (old.sql:3) fails after 20250201000000_rename_name.js (pre-deploy), while the old code still runs: 42703 column "name" of relation "users" does not exist'),
    result.stdout,
  );
  t.true(lines.includes('Not safe to deploy: 3 queries would break.'), result.stdout);
  t.deepEqual(await snapshot(db.url), before);
});

test("a new NOT NULL column without a default is caught for the old code's INSERT, directly and through the view of a safer rename", async (t) => {
  const files = {
    ...BASELINE,
    'migrations/20250101000001_create_orders.js': `
exports.up = async (knex) => {
  await knex.schema.createTable('orders', (t) => { t.increments('id'); t.integer('amount').notNullable(); });
  await knex.schema.createTable('notes', (t) => { t.increments('id'); t.text('body'); });
};
exports.down = async (knex) => {
  await knex.schema.dropTable('notes');
  await knex.schema.dropTable('orders');
};
`,
  };
  const { db, project } = await baselineProject('{}', files);
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await project.write(
    'migrations/20250201000000_add_tenant.js',
    `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.raw('ALTER TABLE users ADD COLUMN tenant integer NOT NULL');
exports.down = (knex) => knex.raw('ALTER TABLE users DROP COLUMN tenant');
`,
  );
  await project.write(
    'migrations/20250201000001_rename_orders.js',
    `const { saferRenameTablePart1, revertSaferRenameTablePart1 } = require('knex-zero-downtime');
exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => saferRenameTablePart1(knex, 'orders', 'purchases');
exports.down = (knex) => revertSaferRenameTablePart1(knex, 'orders', 'purchases');
`,
  );
  await project.write(
    'migrations/20250201000002_add_currency.js',
    `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.raw('ALTER TABLE purchases ADD COLUMN currency char(3) NOT NULL');
exports.down = (knex) => knex.raw('ALTER TABLE purchases DROP COLUMN currency');
`,
  );
  // The safe way to a NOT NULL (knex-zd's setNotNull) starts with a CHECK … NOT VALID: new rows are checked at once.
  await project.write(
    'migrations/20250201000003_notes_author.js',
    `exports.config = { stage: 'pre-deploy' };
exports.up = async (knex) => {
  await knex.raw('ALTER TABLE notes ADD COLUMN author text');
  await knex.raw('ALTER TABLE notes ADD CONSTRAINT notes_author_not_null CHECK (author IS NOT NULL) NOT VALID');
};
exports.down = (knex) => knex.raw('ALTER TABLE notes DROP COLUMN author');
`,
  );
  await project.write(
    'old.sql',
    `insert into users (name) values ($1);\ninsert into orders (amount) values ($1) returning id;\nselect id, amount from orders;\ninsert into notes (body) values ($1);\n`,
  );
  const result = await project.run(['verify', '--old-queries', 'old.sql', '--json']);
  t.is(result.code, 1, result.stderr + result.stdout);
  const queries = (JSON.parse(result.stdout) as { queries: JsonQuery[] }).queries;
  t.deepEqual(queries[0].failure, {
    after: '20250201000000_add_tenant.js',
    phase: 'pre-deploy',
    kind: 'not-null',
    sqlState: '23502',
    message: 'null value in column "tenant" of relation "users" violates not-null constraint',
    detail: 'the INSERT gives no value for "tenant", and "tenant" is NOT NULL without a default',
  });
  t.deepEqual(queries[1].failure, {
    after: '20250201000002_add_currency.js',
    phase: 'pre-deploy',
    kind: 'not-null',
    sqlState: '23502',
    message: 'null value in column "currency" of relation "purchases" violates not-null constraint',
    detail: 'the INSERT gives no value for "currency" (through the view "public.orders"), and "currency" is NOT NULL without a default',
  });
  t.deepEqual(queries[1].results.map((r) => r.ok), [true, true, true, false, false], 'the INSERT through the view works until the NOT NULL column comes');
  t.is(queries[2].verdict, 'ok');
  t.deepEqual(queries[3].failure, {
    after: '20250201000003_notes_author.js',
    phase: 'pre-deploy',
    kind: 'not-null',
    sqlState: '23514',
    message: 'new row for relation "notes" violates check constraint "notes_author_not_null"',
    detail: 'the INSERT gives no value for "author", and the constraint "notes_author_not_null" is CHECK ("author" IS NOT NULL)',
  });
});

test('a new query that fails after the pre-deploy step is an error naming what is missing and the post-deploy migration that has it', async (t) => {
  const { db, project } = await baselineProject();
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await project.write('migrations/20250201000000_add_email.js', ADD_EMAIL);
  await project.write(
    'migrations/20250201000001_add_nickname.js',
    `exports.config = { stage: 'post-deploy' };
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.string('nickname'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('nickname'); });
`,
  );
  await project.write('new.sql', 'select id, email, nickname from users;\n');
  const result = await project.run(['verify', '--new-queries', 'new.sql']);
  t.is(result.code, 1, result.stderr + result.stdout);
  t.true(
    result.stdout
      .split('\n')
      .includes(
        '  new SELECT (new.sql:1) fails after the pre-deploy step, when the new code runs: 42703 column "nickname" does not exist; ' +
          'it works after 20250201000001_add_nickname.js, a post-deploy migration: the new code needs it applied before it runs (make it pre-deploy)',
      ),
    result.stdout,
  );
});

test('syntax errors are reported as such and not counted; queries that already fail are reported apart', async (t) => {
  const { db, project } = await baselineProject();
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await project.write('migrations/20250201000000_add_email.js', ADD_EMAIL);
  await project.write('old.sql', 'selec id from users;\nselect * from no_such_table;\nselect id from users;\nBEGIN;\n');
  const result = await project.run(['verify', '--old-queries', 'old.sql']);
  t.is(result.code, 0, result.stderr + result.stdout);
  const lines = result.stdout.split('\n');
  t.true(lines.includes('1 old query already fails at the current schema (not counted):'), result.stdout);
  t.true(lines.includes('  old SELECT (old.sql:2): 42P01 relation "no_such_table" does not exist'), result.stdout);
  t.true(lines.includes('1 query with a syntax error (not checked against any schema):'), result.stdout);
  t.true(lines.includes('  old (old.sql:1): syntax error at or near "selec"'), result.stdout);
  t.true(lines.includes('1 statement not checked: PREPARE takes only SELECT, INSERT, UPDATE, DELETE and MERGE (BEGIN).'), result.stdout);
});

test('migrate:latest --pre-deploy --verify-queries refuses on a breaking query and applies nothing; applies when the queries survive', async (t) => {
  const { db, project } = await baselineProject();
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await project.write('old.sql', OLD_SQL);
  await project.write(
    'migrations/20250201000000_rename_name.js',
    `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('name', 'full_name'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('full_name', 'name'); });
`,
  );
  const before = await snapshot(db.url);
  const refused = await project.run(['migrate:latest', '--pre-deploy', '--verify-queries', 'old.sql']);
  t.is(refused.code, 1, refused.stderr + refused.stdout);
  t.regex(refused.stderr, /old SELECT \(old\.sql:2\) fails after 20250201000000_rename_name\.js \(pre-deploy\), while the old code still runs: 42703 column "name" does not exist/);
  t.regex(refused.stderr, /Refusing to migrate: the verification of --verify-queries failed\. Nothing was applied\./);
  t.deepEqual(await snapshot(db.url), before);

  await project.write('migrations/20250201000000_rename_name.js', ADD_EMAIL);
  await project.write('migrations/20250201000001_drop_legacy_name.js', DROP_LEGACY);
  const applied = await project.run(['migrate:latest', '--pre-deploy', '--verify-queries', 'old.sql']);
  t.is(applied.code, 0, applied.stderr + applied.stdout);
  t.regex(applied.stdout, /applied 1 pre-deploy migration:\n {2}20250201000000_rename_name\.js/);
  t.regex(applied.stderr, /Finish the roll-out \(no old code running\) before knex-zd migrate:latest applies 20250201000001_drop_legacy_name\.js\./);

  const post = await project.run(['migrate:latest', '--verify-queries', 'old.sql']);
  t.is(post.code, 2);
  t.regex(post.stderr, /--verify-queries goes with --pre-deploy/);
});

test("the knexfile's searchPath is the queries' search path in the shadow database too", async (t) => {
  const db = await createTestDatabase('zd_verify');
  await db.knex.raw('CREATE SCHEMA app');
  const knexfile = knexfileSource(db.url).replace("client: 'pg',", "client: 'pg',\n  searchPath: ['app', 'public'],");
  const project = await createProject({
    'knexfile.js': knexfile,
    'migrations/20250101000000_create_users.js': `
exports.up = (knex) => knex.schema.createTable('users', (t) => { t.increments('id'); t.string('name'); });
exports.down = (knex) => knex.schema.dropTable('users');
`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const baseline = await project.run(['migrate:latest']);
  t.is(baseline.code, 0, baseline.stderr);
  t.deepEqual((await db.knex.raw(`SELECT table_schema FROM information_schema.tables WHERE table_name = 'users'`)).rows, [{ table_schema: 'app' }]);
  await project.write(
    'migrations/20250201000000_rename_name.js',
    `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('name', 'full_name'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('full_name', 'name'); });
`,
  );
  await project.write('old.sql', 'select id, name from users;\n');
  const result = await project.run(['verify', '--old-queries', 'old.sql']);
  t.is(result.code, 1, result.stderr + result.stdout);
  t.true(
    result.stdout.split('\n').includes('  old SELECT (old.sql:1) fails after 20250201000000_rename_name.js (pre-deploy), while the old code still runs: 42703 column "name" does not exist'),
    result.stdout,
  );
});

test('a pre-deploy migration after a post-deploy one in file order: verify runs them in deploy order, as migrate:latest --pre-deploy then migrate:latest would', async (t) => {
  const files = {
    ...BASELINE,
    'migrations/20250101000001_create_notes.js': `
exports.up = (knex) => knex.schema.createTable('notes', (t) => { t.increments('id'); t.text('body'); });
exports.down = (knex) => knex.schema.dropTable('notes');
`,
  };
  const { db, project } = await baselineProject('{}', files);
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await project.write('migrations/20250201000000_drop_legacy_name.js', DROP_LEGACY);
  await project.write(
    'migrations/20250201000001_add_note_author.js',
    `exports.up = (knex) => knex.schema.alterTable('notes', (t) => { t.text('author'); });
exports.down = (knex) => knex.schema.alterTable('notes', (t) => { t.dropColumn('author'); });
`,
  );
  await project.write('old.sql', OLD_SQL);
  await project.write('new.sql', 'select id, body, author from notes;\n');
  const result = await project.run(['verify', '--old-queries', 'old.sql', '--new-queries', 'new.sql', '--json']);
  t.is(result.code, 0, result.stderr + result.stdout);
  const report = JSON.parse(result.stdout) as { steps: unknown[]; queries: JsonQuery[] };
  t.deepEqual(report.steps, [
    { after: null, phase: 'current' },
    { after: '20250201000001_add_note_author.js', phase: 'pre-deploy' },
    { after: '20250201000000_drop_legacy_name.js', phase: 'post-deploy' },
  ]);
  t.deepEqual(
    report.queries.map((q) => [q.origin, q.verdict, q.failure?.after ?? null]),
    [
      ['old.sql:2', 'breaks-after-roll-out', '20250201000000_drop_legacy_name.js'],
      ['old.sql:3', 'breaks-after-roll-out', '20250201000000_drop_legacy_name.js'],
      ['old.sql:4', 'ok', null],
      ['new.sql:1', 'ok', null],
    ],
  );
});
