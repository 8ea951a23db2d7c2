import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
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

test('pass-through commands (seed:make, seed:run, migrate:currentVersion) load a knexfile.ts, and a knexfile.cjs', async (t) => {
  const db = await createTestDatabase('zd_parity');
  const project = await createProject({
    'knexfile.ts': `import type { Knex } from 'knex';
const config: Knex.Config = { client: 'pg', connection: ${JSON.stringify(db.url)}, seeds: { directory: './seeds' }, zeroDowntime: { shadow: false } };
export default config;
`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const make = await project.run(['seed:make', 'first']);
  t.is(make.code, 0, make.stderr);
  t.regex(make.stdout, /Created seed file: .*seeds\/first\.ts/);
  await project.write('seeds/first.ts', `import type { Knex } from 'knex';
export async function seed(knex: Knex): Promise<void> {
  await knex.raw('create table seeded (id int)');
  await knex('seeded').insert({ id: 1 });
}
`);
  const run = await project.run(['seed:run']);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /Ran 1 seed files/);
  t.deepEqual(await db.knex('seeded').pluck('id'), [1]);
  const version = await project.run(['migrate:currentVersion']);
  t.is(version.code, 0, version.stderr);
  t.regex(version.stdout, /Current Version: none/);
  t.notRegex(version.stdout + version.stderr, /Failed to load external module/);
  const failed = await project.run(['seed:run', '--specific', 'missing.ts']);
  t.is(failed.code, 1, "knex's own exit code");
  t.regex(failed.stderr, /missing\.ts/);

  // knex's CLI looks for no knexfile.cjs by itself: knex-zd hands it the one it found.
  const cjs = await createProject({ 'knexfile.cjs': `module.exports = { client: 'pg', connection: ${JSON.stringify(db.url)} };\n`, 'src/.keep': '' });
  t.teardown(() => cjs.remove());
  const fromSubfolder = await runCli(path.join(cjs.dir, 'src'), ['migrate:currentVersion']);
  t.is(fromSubfolder.code, 0, fromSubfolder.stderr);
  t.regex(fromSubfolder.stdout, /Current Version: none/);
});

test("knex's flags override the knexfile: --connection, --migrations-directory, --migrations-table-name, --disable-transactions, --debug", async (t) => {
  const db = await createTestDatabase('zd_parity');
  const project = await createProject({
    // A wrong port and a maxBackoff that only a single lock timeout contradicts: the flags must win.
    'knexfile.js': knexfileSource('postgres://postgres@127.0.0.1:1/nowhere', "{ shadow: false, timeouts: { maxBackoff: '500ms' } }"),
    'db/migrations/001_log.js': `exports.up = async (knex) => {
  await knex.schema.createTable('log', (t) => { t.bigInteger('xid'); });
  await knex.raw('insert into log (xid) values (txid_current())');
  await knex.raw('insert into log (xid) values (txid_current())');
};
exports.down = (knex) => knex.schema.dropTable('log');
`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const flags = ['--connection', db.url, '--migrations-directory', 'db/migrations', '--migrations-table-name', 'app_migrations'];
  const latest = await project.run(['migrate:latest', ...flags, '--debug', '--esm', '--verbose']);
  t.is(latest.code, 0, latest.stderr);
  t.regex(latest.stdout, /001_log\.js/);
  t.regex(latest.stdout, /sql: 'select 1'/, 'knex debug output');
  t.deepEqual(await db.knex('app_migrations').pluck('name'), ['001_log.js']);
  t.false(await db.knex.schema.hasTable('knex_migrations'));
  t.is(Number((await db.knex('log').countDistinct('xid as n'))[0].n), 1, 'one transaction by default');

  t.is((await project.run(['migrate:rollback', ...flags])).code, 0);
  const untransacted = await project.run(['migrate:latest', ...flags, '--disable-transactions']);
  t.is(untransacted.code, 0, untransacted.stderr);
  t.is(Number((await db.knex('log').countDistinct('xid as n'))[0].n), 2, 'no transaction around the migration');

  // Without a knexfile, --connection makes the config (client pg), as --client/--connection do in knex.
  const bare = await createProject({
    'migrations/001_typed.ts': `import type { Knex } from 'knex';
export async function up(knex: Knex): Promise<void> { await knex.schema.createTable('typed', (t) => { t.increments('id'); }); }
export async function down(knex: Knex): Promise<void> { await knex.schema.dropTable('typed'); }
`,
  });
  t.teardown(() => bare.remove());
  const status = await bare.run(['migrate:status', '--json', '--connection', db.url, '--migrations-directory', path.join(project.dir, 'db/migrations'), '--migrations-table-name', 'app_migrations']);
  t.is(status.code, 0, status.stderr);
  t.deepEqual(JSON.parse(status.stdout).migrations.map((m: { name: string; state: string }) => [m.name, m.state]), [['001_log.js', 'completed']]);
  const typed = await bare.run(['migrate:plan', '--json', '--connection', db.url]);
  t.is(typed.code, 0, typed.stderr);
  t.deepEqual(JSON.parse(typed.stdout).migrations.map((m: { name: string }) => m.name), ['001_typed.ts']);
  const mysql = await bare.run(['migrate:status', '--client', 'mysql', '--connection', db.url]);
  t.is(mysql.code, 2);
  t.is(mysql.stderr.trim(), 'Error: knex-zero-downtime works with PostgreSQL; --client gives client "mysql".');

  // A flag that contradicts the knexfile's option is named, not the knexfile alone.
  const contradiction = await project.run(['migrate:latest', ...flags, '--lock-timeout', '2s']);
  t.is(contradiction.code, 2);
  t.is(
    contradiction.stderr.trim(),
    `Error: --lock-timeout 2s contradicts the zeroDowntime option of ${project.dir}/knexfile.js: zeroDowntime.timeouts.maxBackoff (500ms) must not be shorter than zeroDowntime.timeouts.backoff (1000ms).`,
  );
  const lockWait = await project.run(['migrate:latest', ...flags, '--lock-wait', 'soon']);
  t.is(lockWait.code, 2);
  t.is(lockWait.stderr.trim(), 'Error: --lock-wait must be a duration such as 10min, 90s or 1h (a bare number means seconds); got "soon".');
});

test('migrate:make takes --stub (rendered by knex), --knexpath, and --env with a knexfile without environments, as knex does', async (t) => {
  const project = await createProject({
    'knexfile.js': `module.exports = { client: 'pg', connection: 'postgres://postgres@127.0.0.1:1/nowhere', migrations: { directory: './migrations', variables: { owner: 'shop' } } };\n`,
    'stubs/migration.stub': `// owned by <%= d.owner %>\nexports.config = { stage: 'post-deploy' };\nexports.up = async () => {};\nexports.down = async () => {};\n`,
  });
  t.teardown(() => project.remove());
  // knex uses a knexfile without environments whatever --env says (its resolveEnvironmentConfig).
  const flat = await project.run(['migrate:make', 'add_nickname', '--env', 'production']);
  t.is(flat.code, 0, flat.stderr);
  const made = await project.run(['migrate:make', 'drop_legacy', '--stub', 'stubs/migration.stub', '--knexpath', path.join(ROOT, 'node_modules/knex')]);
  t.is(made.code, 0, made.stderr);
  const files = await readdir(path.join(project.dir, 'migrations'));
  t.is(files.length, 2);
  const file = files.find((f) => f.endsWith('_drop_legacy.js'))!;
  t.regex(file, /^\d{14}_drop_legacy\.js$/);
  t.is(await readFile(path.join(project.dir, 'migrations', file), 'utf8'), `// owned by shop\nexports.config = { stage: 'post-deploy' };\nexports.up = async () => {};\nexports.down = async () => {};\n`);
  const both = await project.run(['migrate:make', 'x', '--stub', 'stubs/migration.stub', '--stage', 'pre-deploy']);
  t.is(both.code, 2);
  t.regex(both.stderr, /--stage writes knex-zd's own template, and --stub .*migration\.stub replaces it: declare the stage in the stub instead/);
});

test('knex-zd init writes a PostgreSQL knexfile that knex-zd then uses, and never overwrites one', async (t) => {
  const db = await createTestDatabase('zd_parity');
  const project = await createProject({ 'app/.keep': '' });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const init = await project.run(['init']);
  t.is(init.code, 0, init.stderr);
  t.is(init.stdout.trim(), `Created ${project.dir}/knexfile.js`);
  const js = await readFile(path.join(project.dir, 'knexfile.js'), 'utf8');
  t.regex(js, /module\.exports = \{\n {2}client: 'pg',\n {2}connection: process\.env\.DATABASE_URL \|\| 'postgres:\/\/postgres@localhost:5432\/knex_zd_project_\w+',/);
  t.regex(js, /\n {2}zeroDowntime: \{\n {4}\/\/ stages: /);

  const again = await project.run(['init', '-x', 'ts']);
  t.is(again.code, 2);
  t.is(again.stderr.trim(), `Error: ${project.dir}/knexfile.js already exists: knex-zd init never overwrites a knexfile. Add the zeroDowntime option to it by hand (README, "The knexfile option").`);
  t.false(existsSync(path.join(project.dir, 'knexfile.ts')));

  const ts = await project.run(['init', '-x', 'ts', '--cwd', 'app']);
  t.is(ts.code, 0, ts.stderr);
  t.regex(await readFile(path.join(project.dir, 'app/knexfile.ts'), 'utf8'), /^import type \{ Knex \} from 'knex';\n/);
  const env = { DATABASE_URL: db.url };
  const make = await project.run(['migrate:make', 'create_orders', '--cwd', 'app', '--stage', 'pre-deploy'], env);
  t.is(make.code, 0, make.stderr);
  const [file] = await readdir(path.join(project.dir, 'app/migrations'));
  t.regex(file, /_create_orders\.ts$/);
  await writeFile(
    path.join(project.dir, 'app/migrations', file),
    `import type { Knex } from 'knex';
export const config = { stage: 'pre-deploy' };
export async function up(knex: Knex): Promise<void> { await knex.schema.createTable('orders', (t) => { t.increments('id'); }); }
export async function down(knex: Knex): Promise<void> { await knex.schema.dropTable('orders'); }
`,
  );
  const latest = await project.run(['migrate:latest', '--cwd', 'app'], env);
  t.is(latest.code, 0, latest.stderr);
  t.true(await db.knex.schema.hasTable('orders'));
});
