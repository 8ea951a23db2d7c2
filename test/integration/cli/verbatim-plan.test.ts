import test from 'ava';
import pg from 'pg';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource } from '../../helpers/project.js';

/** The reproduction of issue 10, through the CLI: what migrate:plan shows is what migrate:latest runs, and nothing else. */
test('migrate:plan shows DROP TABLE "public"."keep\\?me", migrate:latest runs exactly that, and "keep?me" keeps its rows', async (t) => {
  const db = await createTestDatabase('zd_verbatim');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url),
    'migrations/001_drop.js': `
const { dropTable, backfill } = require('knex-zero-downtime');
exports.config = { stage: 'post-deploy' };
exports.up = async (knex) => {
  await dropTable(knex, 'keep\\\\?me');
  await backfill(knex, 'links', { pattern: '^/search\\\\?q=', url: 'https://example.com/?utm=1' }, { where: "data ? 'k'" });
};
exports.down = async () => {};
`,
  });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  t.teardown(async () => {
    await client.end();
    await db.drop();
    await project.remove();
  });
  await client.query(`CREATE TABLE "keep?me" (id int); INSERT INTO "keep?me" VALUES (1), (2), (3); CREATE TABLE "keep\\?me" (id int);
    CREATE TABLE links (id serial PRIMARY KEY, pattern text, url text, data jsonb); INSERT INTO links (data) VALUES ('{"k": 1}'), ('{}')`);

  const plan = await project.run(['migrate:plan', '--json']);
  t.is(plan.code, 0, plan.stderr);
  const statements = (JSON.parse(plan.stdout) as { migrations: { statements: { sql: string }[] }[] }).migrations.flatMap((m) => m.statements.map((s) => s.sql));
  t.is(statements[0], 'DROP TABLE "public"."keep\\?me"');
  t.true(statements.some((sql) => sql.includes(`SET "pattern" = E'^/search\\\\?q=', "url" = E'https://example.com/?utm=1'`) && sql.includes(`AND (data ? 'k')`)));
  t.true(statements.some((sql) => sql.includes('WHERE "id" > $1 ORDER BY')));

  const latest = await project.run(['migrate:latest']);
  t.is(latest.code, 0, latest.stderr);
  t.deepEqual((await client.query('SELECT count(*)::int AS n FROM "keep?me"')).rows, [{ n: 3 }]);
  t.deepEqual((await client.query(`SELECT to_regclass('"keep\\?me"') AS r`)).rows, [{ r: null }]);
  t.deepEqual((await client.query('SELECT pattern, url FROM links ORDER BY id')).rows, [
    { pattern: '^/search\\?q=', url: 'https://example.com/?utm=1' },
    { pattern: null, url: null },
  ]);
});
