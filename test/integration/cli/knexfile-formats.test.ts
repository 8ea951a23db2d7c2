import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject } from '../../helpers/project.js';

test('a TypeScript knexfile with TypeScript migrations that import the package', async (t) => {
  const db = await createTestDatabase('zd_ts');
  const project = await createProject({
    'knexfile.ts': `import type { Knex } from 'knex';
const config: { [env: string]: Knex.Config } = {
  development: {
    client: 'pg',
    connection: ${JSON.stringify(db.url)},
    migrations: { directory: './migrations', extension: 'ts' },
    zeroDowntime: { timeouts: { lock: '2s', retries: 2 } },
  },
};
export default config;
`,
    'migrations/20250101000000_create_orders.ts': `import type { Knex } from 'knex';
import { STAGES } from 'knex-zero-downtime';
export const config = { stage: STAGES[0] };
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('orders', (t) => { t.increments('id'); t.text('status'); });
}
export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('orders');
}
`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const pre = await project.run(['migrate:latest', '--pre-deploy']);
  t.is(pre.code, 0, pre.stderr);
  t.regex(pre.stdout, /20250101000000_create_orders\.ts/);
  t.true(await db.knex.schema.hasTable('orders'));

  const make = await project.run(['migrate:make', 'drop_status', '--stage', 'post-deploy']);
  t.is(make.code, 0, make.stderr);
  const files = await readdir(path.join(project.dir, 'migrations'));
  const made = files.find((f) => f.endsWith('_drop_status.ts'));
  t.truthy(made, files.join(', '));
  const content = await readFile(path.join(project.dir, 'migrations', made!), 'utf8');
  t.regex(content, /export const config = \{\n {2}stage: 'post-deploy'\n\};/);
  t.regex(content, /export async function down\(knex: Knex\)/);

  const status = await project.run(['migrate:status', '--json']);
  t.is(status.code, 0, status.stderr);
  const rows = JSON.parse(status.stdout).migrations;
  t.deepEqual(rows.map((r: { state: string; stage: string }) => [r.state, r.stage]), [
    ['completed', 'pre-deploy'],
    ['pending', 'post-deploy'],
  ]);
  const badStage = await project.run(['migrate:make', 'x', '--stage', 'later']);
  t.is(badStage.code, 2);
  t.regex(badStage.stderr, /--stage must be 'pre-deploy' or 'post-deploy'; got "later"/);
});

test('an ESM knexfile (.mjs) with ESM migrations, found from a subfolder or with --cwd', async (t) => {
  const db = await createTestDatabase('zd_esm');
  const project = await createProject({
    'knexfile.mjs': `export default { client: 'pg', connection: ${JSON.stringify(db.url)}, migrations: { directory: './migrations', loadExtensions: ['.mjs'] } };\n`,
    'migrations/001_widgets.mjs': `export const up = (knex) => knex.schema.createTable('widgets', (t) => { t.increments('id'); });
export const down = (knex) => knex.schema.dropTable('widgets');
`,
    'src/app/.keep': '',
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const { runCli } = await import('../../helpers/project.js');
  const fromSubfolder = await runCli(path.join(project.dir, 'src/app'), ['migrate:plan', '--json']);
  t.is(fromSubfolder.code, 0, fromSubfolder.stderr);
  t.deepEqual(JSON.parse(fromSubfolder.stdout).migrations.map((m: { name: string }) => m.name), ['001_widgets.mjs']);
  const withCwd = await runCli('/', ['migrate:latest', '--cwd', project.dir]);
  t.is(withCwd.code, 0, withCwd.stderr);
  t.true(await db.knex.schema.hasTable('widgets'));
});
