import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource, ROOT } from '../../helpers/project.js';

const RELEASE = path.join(ROOT, 'test/fixtures/release/migrations');

async function releaseFiles(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of await readdir(RELEASE)) files[`migrations/${name}`] = await readFile(path.join(RELEASE, name), 'utf8');
  return files;
}

// Every operation, on tables that earlier migrations of the same pending release create, rename or change.
for (const [mode, shadow] of [['capture', 'false'], ['shadow', "'auto'"]] as const) {
test(`${mode} mode: a whole release pending on an empty database plans and applies, every operation included`, async (t) => {
  const db = await createTestDatabase('zd_empty');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url, `{ shadow: ${shadow} }`), ...(await releaseFiles()) });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });

  const plan = await project.run(['migrate:plan', '--json']);
  t.is(plan.code, 0, plan.stderr + plan.stdout.slice(0, 3000));
  const parsed = JSON.parse(plan.stdout) as {
    analysis: { mode: string };
    migrations: Array<{ name: string; error: string | null; stage: string | null; analysedBy: string; statements: Array<{ sql: string }> }>;
    errors: number;
  };
  t.is(parsed.analysis.mode, mode);
  t.true(parsed.migrations.every((m) => m.analysedBy === mode));
  t.deepEqual(parsed.migrations.filter((m) => m.error !== null).map((m) => [m.name, m.error]), []);
  t.is(parsed.errors, 0);
  // Operations plan their full work although their tables do not exist yet.
  const sqlOf = (name: string) => parsed.migrations.find((m) => m.name === name)?.statements.map((s) => s.sql) ?? [];
  // Capture shows the batch statements' templates; the shadow ran the batches for real (two rows, batches of one, and the empty last one).
  t.deepEqual(sqlOf('007_backfill_nickname.js').length, mode === 'capture' ? 2 : 3);
  t.false(parsed.migrations.some((m) => m.statements.some((s) => /knex_migrations/.test(s.sql))));
  t.regex(sqlOf('009_nickname_not_null.js').join('\n'), /ADD CONSTRAINT "users_nickname_not_null" CHECK \("nickname" IS NOT NULL\) NOT VALID/);
  t.deepEqual(sqlOf('013_rename_orders_done.js'), ['DROP VIEW "public"."orders"']);
  t.regex(sqlOf('015_rename_name_done.js').join('\n'), /DROP VIEW "public"."users"\nALTER TABLE "public"."users_zd_renaming" RENAME TO "users"/);
  t.deepEqual(sqlOf('016_drop_email_index.js'), ['DROP INDEX CONCURRENTLY "public"."users_email_index"']);
  t.deepEqual(sqlOf('020_drop_scratch.js'), ['DROP TABLE "public"."scratch"']);
  const stages = Object.fromEntries(parsed.migrations.map((m) => [m.name, m.stage]));
  t.is(stages['017_widen_code.js'], 'pre-deploy');
  // Planning wrote nothing.
  const tables = await db.knex.raw(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
  t.is(tables.rows[0].n, 0);

  const applied = await project.run(['migrate:latest']);
  t.is(applied.code, 0, applied.stderr + applied.stdout);
  const columns = await db.knex.raw(
    `SELECT column_name, is_nullable, data_type, character_maximum_length FROM information_schema.columns WHERE table_name = 'users' ORDER BY column_name`,
  );
  t.deepEqual(
    columns.rows.map((r: Record<string, unknown>) => [r.column_name, r.is_nullable]),
    [['active', 'NO'], ['balance', 'YES'], ['code', 'YES'], ['email', 'YES'], ['full_name', 'YES'], ['id', 'NO'], ['nickname', 'NO']],
  );
  const users = await db.knex('users').select('nickname').orderBy('id');
  t.deepEqual(users.map((u: { nickname: string }) => u.nickname), ['a', 'b']);
  const constraints = await db.knex.raw(`SELECT conname, convalidated FROM pg_constraint WHERE conrelid IN ('users'::regclass, 'purchases'::regclass) AND contype IN ('c', 'f', 'u') ORDER BY 1`);
  t.deepEqual(constraints.rows.map((r: { conname: string; convalidated: boolean }) => [r.conname, r.convalidated]), [
    ['orders_user_id_foreign', true],
    ['users_balance_positive', true],
    ['users_nickname_unique', true],
  ]);
  const relations = await db.knex.raw(`SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v') ORDER BY 1`);
  t.deepEqual(relations.rows.map((r: { relname: string; relkind: string }) => [r.relname, r.relkind]), [
    ['knex_migrations', 'r'],
    ['knex_migrations_lock', 'r'],
    ['knex_zd_lock', 'r'],
    ['purchases', 'r'],
    ['users', 'r'],
  ]);
});
}
