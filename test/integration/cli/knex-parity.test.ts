import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { ROOT, createProject, knexfileSource, runCli } from '../../helpers/project.js';

const CREATE = (table: string) => `exports.up = (knex) => knex.schema.createTable('${table}', (t) => { t.increments('id'); });
exports.down = (knex) => knex.schema.dropTable('${table}');
`;

test('.mjs migrations (knex migrate:make -x mjs) are planned and applied without a loadExtensions option', async (t) => {
  const db = await createTestDatabase('zd_parity');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url, '{ shadow: false }'),
    'migrations/001_a.js': CREATE('a'),
    'migrations/002_b.mjs': `export const up = (knex) => knex.schema.createTable('b', (t) => { t.increments('id'); });
export const down = (knex) => knex.schema.dropTable('b');
`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const plan = await project.run(['migrate:plan', '--json']);
  t.is(plan.code, 0, plan.stderr);
  t.deepEqual(JSON.parse(plan.stdout).migrations.map((m: { name: string }) => m.name), ['001_a.js', '002_b.mjs']);
  const latest = await project.run(['migrate:latest']);
  t.is(latest.code, 0, latest.stderr);
  t.true(await db.knex.schema.hasTable('b'));
  t.deepEqual((await db.knex('knex_migrations').orderBy('id').pluck('name')) as string[], ['001_a.js', '002_b.mjs']);
});
