import test from 'ava';
import type { Knex } from 'knex';
import { analyzeMigration } from '../../../src/analysis/analyze-migration.js';
import { parseSettings } from '../../../src/config.js';
import { executePlan } from '../../../src/operations/plan.js';
import { dropNotNull, setNotNull } from '../../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';

const settings = parseSettings({});

async function withDb(t: { teardown(fn: () => Promise<void>): void }): Promise<TestDatabase> {
  const db = await createTestDatabase('zd_capture');
  t.teardown(() => db.drop());
  await db.knex.schema.createTable('users', (table) => {
    table.increments('id');
    table.string('name');
  });
  await db.knex('users').insert([{ name: 'ada' }, { name: 'grace' }]);
  return db;
}

async function catalog(db: TestDatabase) {
  const relations = await db.knex.raw(`select relname, relkind from pg_class where relnamespace = 'public'::regnamespace order by relname`);
  const cols = await db.knex.raw(`select table_name, column_name from information_schema.columns where table_schema = 'public' order by 1, 2`);
  const rows = await db.knex('users').select().orderBy('id');
  return { relations: relations.rows, cols: cols.rows, rows };
}

test('captures builder, raw and operation statements without writing anything', async (t) => {
  const db = await withDb(t);
  const before = await catalog(db);
  const report = await analyzeMigration(
    db.knex,
    {
      name: '001_mixed_sources.js',
      module: {
        config: { stage: 'pre-deploy' },
        async up(knex: Knex) {
          await knex.schema.alterTable('users', (table) => table.string('email'));
          await knex.raw('CREATE INDEX CONCURRENTLY users_email_idx ON users (email)');
          await knex('users').update({ name: 'x' }).where({ id: 1 });
          await knex.schema.createTable('audit', (table) => table.increments('id'));
          await executePlan(knex, {
            operation: 'exampleOperation',
            stage: 'pre-deploy',
            steps: [{ sql: 'ALTER TABLE "users" VALIDATE CONSTRAINT "users_name_check"', transaction: 'own', statementTimeout: false }],
          });
        },
        down: async () => {},
      },
    },
    { settings },
  );
  t.is(report.error, null);
  t.deepEqual(
    report.statements.map((s) => [s.source, s.analysis.summary.split(' ').slice(0, 2).join(' '), s.stepTransaction]),
    [
      ['knex', 'ALTER TABLE', 'inherit'],
      ['knex', 'CREATE INDEX', 'inherit'],
      ['knex', 'UPDATE', 'inherit'],
      ['knex', 'CREATE TABLE', 'inherit'],
      ['operation', 'ALTER TABLE', 'own'],
    ],
  );
  t.is(report.statements[2].sql, `update "users" set "name" = 'x' where "id" = 1`);
  t.is(report.statements[4].sql, 'ALTER TABLE "users" VALIDATE CONSTRAINT "users_name_check"');
  t.deepEqual(report.statements[4].operation, { name: 'exampleOperation', stage: 'pre-deploy' });
  t.false(report.statements[4].statementTimeout);
  // CONCURRENTLY and an own-transaction step make knex-zd run the migration outside a transaction.
  t.false(report.transaction);
  t.deepEqual(await catalog(db), before);
});

test('reads reach the database (read-only), so a migration can decide from the catalog', async (t) => {
  const db = await withDb(t);
  const up = async (knex: Knex) => {
    if (!(await knex.schema.hasColumn('users', 'email'))) {
      await knex.schema.alterTable('users', (table) => table.string('email'));
    }
    const rows = await knex('users').select('id').orderBy('id');
    for (const row of rows) await knex('users').update({ name: `user ${row.id}` }).where({ id: row.id });
  };
  const first = await analyzeMigration(db.knex, { name: 'a.js', module: { up, down: up } }, { settings });
  t.deepEqual(
    first.statements.map((s) => s.sql),
    [
      'alter table "users" add column "email" varchar(255)',
      `update "users" set "name" = 'user 1' where "id" = 1`,
      `update "users" set "name" = 'user 2' where "id" = 2`,
    ],
  );
  await db.knex.schema.alterTable('users', (table) => table.string('email'));
  const second = await analyzeMigration(db.knex, { name: 'a.js', module: { up, down: up } }, { settings });
  t.is(second.statements.length, 2);
});

test('a read that turns out to write is recorded, never run', async (t) => {
  const db = await withDb(t);
  const report = await analyzeMigration(
    db.knex,
    {
      name: 'cte.js',
      module: {
        config: { stage: 'pre-deploy' },
        up: (knex: Knex) => knex.raw(`WITH moved AS (DELETE FROM users RETURNING *) SELECT count(*) FROM moved`),
        down: async () => {},
      },
    },
    { settings },
  );
  t.is(report.error, null);
  t.is(report.statements.length, 1);
  t.is((await db.knex('users').count('* as n'))[0].n, '2');
});

test('statements inside a transaction the migration opens are marked, and CONCURRENTLY there is an error finding', async (t) => {
  const db = await withDb(t);
  const report = await analyzeMigration(
    db.knex,
    {
      name: 'trx.js',
      module: {
        up: (knex: Knex) =>
          knex.transaction(async (trx) => {
            await trx.raw('CREATE INDEX CONCURRENTLY users_name_idx ON users (name)');
          }),
        down: async () => {},
      },
    },
    { settings },
  );
  t.deepEqual(report.statements.map((s) => s.inExplicitTransaction), [true]);
  const { runChecks } = await import('../../../src/checks/index.js');
  const result = runChecks([report], settings);
  t.deepEqual(result.findings.map((f) => f.code), ['concurrently-in-transaction']);
});

test('down reports invert the stage of up', async (t) => {
  const db = await withDb(t);
  const module = {
    up: (knex: Knex) => knex.schema.alterTable('users', (table) => table.string('email')),
    down: (knex: Knex) => knex.schema.alterTable('users', (table) => table.dropColumn('email')),
  };
  const up = await analyzeMigration(db.knex, { name: 'm.js', module }, { settings });
  const down = await analyzeMigration(db.knex, { name: 'm.js', module }, { settings, direction: 'down' });
  t.is(up.stage, 'pre-deploy');
  t.is(down.stage, 'post-deploy');
  t.is(down.stageSource, 'inferred');
});

test('a column added with a foreign key in alterTable is pre-deploy, not mixed', async (t) => {
  const db = await withDb(t);
  const report = await analyzeMigration(
    db.knex,
    {
      name: 'fk.js',
      module: {
        up: async (knex: Knex) => {
          await knex.schema.createTable('teams', (table) => table.increments('id'));
          await knex.schema.alterTable('users', (table) => {
            table.integer('team_id').references('teams.id');
            table.string('nickname').unique();
          });
        },
        down: async () => {},
      },
    },
    { settings },
  );
  t.is(report.error, null);
  t.is(report.stage, 'pre-deploy');
  t.is(report.stageSource, 'inferred');
});

test('an operation with nothing left to do still gives the migration its stage', async (t) => {
  const db = await withDb(t);
  const report = await analyzeMigration(
    db.knex,
    {
      name: 'done.js',
      module: {
        up: (knex: Knex) => executePlan(knex, { operation: 'dropColumn', stage: 'post-deploy', steps: [] }),
        down: async () => {},
      },
    },
    { settings },
  );
  t.deepEqual(report.statements, []);
  t.is(report.stage, 'post-deploy');
  t.is(report.stageSource, 'inferred');
});

test('NOT NULL operations on a column that a pending migration adds plan their full work', async (t) => {
  const db = await withDb(t);
  const plan = async (up: (knex: Knex) => Promise<unknown>) =>
    (await analyzeMigration(db.knex, { name: 'nn.js', module: { up, down: async () => {} } }, { settings })).statements.map((s) => s.sql);
  t.deepEqual(await plan((knex) => setNotNull(knex, 'users', 'email')), [
    'ALTER TABLE "public"."users" ADD CONSTRAINT "users_email_not_null" CHECK ("email" IS NOT NULL) NOT VALID',
    'ALTER TABLE "public"."users" VALIDATE CONSTRAINT "users_email_not_null"',
    'ALTER TABLE "public"."users" ALTER COLUMN "email" SET NOT NULL',
    'ALTER TABLE "public"."users" DROP CONSTRAINT "users_email_not_null"',
  ]);
  t.deepEqual(await plan((knex) => dropNotNull(knex, 'users', 'email')), ['ALTER TABLE "public"."users" ALTER COLUMN "email" DROP NOT NULL']);
  await t.throwsAsync(() => dropNotNull(db.knex, 'users', 'email'), { message: /dropNotNull: the column "public"\."users"\."email" does not exist/ });
});
