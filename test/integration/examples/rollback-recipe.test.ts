import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { createWorkspace } from '../../../examples/demo/workspace.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { ROOT, runCli } from '../../helpers/project.js';

/** The knex-zd commands of the README's rollback recipe (the `sh rollback` block), in order. */
async function rollbackRecipe(): Promise<string[][]> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const block = /^```sh rollback\n([\s\S]*?)^```$/m.exec(readme);
  if (!block) throw new Error('README.md has no ```sh rollback block');
  return block[1]
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(/\s+/).slice(2)); // without `npx knex-zd`
}

async function relations(db: TestDatabase): Promise<string[]> {
  const rows = await db.knex.raw<{ rows: Array<{ relname: string; relkind: string }> }>(
    `SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') AND c.relname NOT LIKE 'knex_%' ORDER BY 1`,
  );
  return rows.rows.map((r) => `${r.relname}:${r.relkind}`);
}

// Releases 1 and 2 of the example app applied by one migrate:latest: one batch holds release 1's
// post-deploy view drop and release 2's column. Reverting the view's drop first (it is pre-deploy
// work) puts back a view over every column of purchases, and the column's revert then fails.
test("the README's rollback recipe reverts a batch that holds both stages, in order", async (t) => {
  const db = await createTestDatabase('zd_recipe');
  const workspace = await createWorkspace();
  t.teardown(async () => {
    await db.drop();
    await workspace.remove();
  });
  const env = { DATABASE_URL: db.url };
  await workspace.ship(0);
  t.is((await runCli(workspace.dir, ['migrate:latest'], env)).code, 0);
  const before = await relations(db);
  await workspace.ship(1);
  await workspace.ship(2);
  const release = await runCli(workspace.dir, ['migrate:latest'], env);
  t.is(release.code, 0, release.stderr);

  const recipe = await rollbackRecipe();
  t.deepEqual(recipe, [['migrate:rollback', '--pre-deploy'], ['migrate:rollback']]);
  const results = [];
  for (const args of recipe) results.push(await runCli(workspace.dir, args, env));
  t.is(results[0].code, 0, results[0].stderr);
  t.is(results[1].code, 0, results[1].stderr);
  t.deepEqual(await relations(db), before);
  t.deepEqual(await db.knex('knex_migrations').orderBy('id').pluck('name'), ['20250101000000_create_customers.ts', '20250101000001_create_orders.ts']);
  // The first step reverted only the NOT NULL (the view's return waits for the column's revert), and says so.
  t.regex(results[0].stdout, /Rolled back 1 migration:\n {2}20250301000002_purchases_currency_not_null\.ts/);
  t.regex(results[0].stdout, /20250201000001_drop_orders_view\.ts {2}waits for .*the revert of 20250301000000_add_purchases_currency\.ts fail/);
  t.regex(results[0].stdout, /Roll the code back, then run knex-zd migrate:rollback\./);
});
