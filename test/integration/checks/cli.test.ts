import test from 'ava';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource, type TestProject } from '../../helpers/project.js';
import { sarifErrors } from '../../helpers/sarif.js';

const CREATE = {
  'migrations/001_create.js': `
exports.up = (knex) => knex.schema
  .createTable('orders', (t) => { t.increments('id'); t.integer('customer_id'); t.text('status'); })
  .createTable('lookup', (t) => { t.increments('id'); t.text('name'); });
exports.down = (knex) => knex.schema.dropTable('orders').dropTable('lookup');
`,
};

const INDEXES = `
exports.up = async (knex) => {
  await knex.schema.alterTable('orders', (t) => { t.index(['customer_id']); });
  await knex.schema.alterTable('lookup', (t) => { t.index(['name']); });
};
exports.down = async (knex) => {
  await knex.schema.alterTable('lookup', (t) => { t.dropIndex(['name']); });
  await knex.schema.alterTable('orders', (t) => { t.dropIndex(['customer_id']); });
};
`;

async function setUp(t: { teardown(fn: () => Promise<void>): void }, zeroDowntime = '{}'): Promise<{ db: TestDatabase; project: TestProject }> {
  const db = await createTestDatabase('zd_cli_checks');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url, zeroDowntime), ...CREATE });
  t.teardown(async () => {
    await project.remove();
    await db.drop();
  });
  const created = await project.run(['migrate:latest']);
  if (created.code !== 0) throw new Error(created.stderr);
  // orders: 20,000 rows (above checks.smallTable); lookup: 3 rows.
  await db.knex.raw(`INSERT INTO orders (customer_id, status) SELECT g, 'new' FROM generate_series(1, 20000) g; ANALYZE orders;
    INSERT INTO lookup (name) VALUES ('a'), ('b'), ('c'); ANALYZE lookup;`);
  return { db, project };
}

test('small table: the index on the 3-row table is a note, the one on 20,000 rows an error; the plan shows rows, size and lock time', async (t) => {
  const { db, project } = await setUp(t);
  await project.write('migrations/002_indexes.js', INDEXES);
  const check = await project.run(['check']);
  t.is(check.code, 1);
  t.regex(check.stdout, /error \[create-index-blocking\] 002_indexes\.js\n {2}Adding an index non-concurrently blocks writes to "orders"/);
  t.regex(
    check.stdout,
    /note \[create-index-blocking\] 002_indexes\.js\n.*"lookup".*\n.*\n {2}small table: lookup has ~3 rows, \d+ kB in the target database: below checks\.smallTable \(10,000 rows\), the lock is held for milliseconds\./,
  );
  t.regex(check.stdout, /Checked 2 migrations: 1 error, 1 note$/m);

  const plan = await project.run(['migrate:plan']);
  t.regex(plan.stdout, /Sizes from the target database \(PostgreSQL \d+\.\d+\); lock times are rough estimates\./);
  t.regex(plan.stdout, /orders: ~20,000 rows, [\d.]+ [MkB]+; blocks writes for ~\d+ ms \(index build\)/);
  const json = JSON.parse((await project.run(['migrate:plan', '--json'])).stdout) as {
    target: { serverVersion: number };
    migrations: { statements: { tables: { relation: string; rows: number; totalBytes: number; blocks: string; work: string; estimatedSeconds: number }[] }[] }[];
  };
  t.true(json.target.serverVersion >= 110_000);
  const [orders] = json.migrations[0].statements[0].tables;
  t.like(orders, { relation: 'orders', rows: 20_000, blocks: 'writes', work: 'index build' });
  t.true(orders.totalBytes > 500_000 && orders.estimatedSeconds > 0);

  // checks.smallTable: 0 turns the notes off.
  await project.write('knexfile.js', knexfileSource(db.url, '{ checks: { smallTable: 0 } }'));
  const strict = await project.run(['check']);
  t.regex(strict.stdout, /Checked 2 migrations: 2 errors$/m);
});

test('allowUnsafe with a reason: the migration runs, and check and migrate:plan show the reason', async (t) => {
  const { db, project } = await setUp(t);
  await project.write(
    'migrations/002_indexes.js',
    `exports.config = { allowUnsafe: { 'create-index-blocking': 'orders is written by a nightly job only, checked 2025-03-01' } };\n${INDEXES}`,
  );
  const check = await project.run(['check']);
  t.is(check.code, 0, check.stdout);
  t.regex(check.stdout, /allowed \[create-index-blocking\] 002_indexes\.js\n.*\n.*\n {2}allowed by config\.allowUnsafe: orders is written by a nightly job only, checked 2025-03-01/);
  const plan = await project.run(['migrate:plan', '--pre-deploy']);
  t.regex(plan.stdout, /allowed by config\.allowUnsafe: orders is written by a nightly job only, checked 2025-03-01/);
  const json = JSON.parse((await project.run(['check', '--json'])).stdout) as { findings: { code: string; severity: string; allowed?: { reason: string } }[]; errors: number; notes: number };
  t.is(json.errors, 0);
  // The opt-out covers the migration's every finding of that id (the small lookup table's too).
  t.deepEqual(json.findings.filter((f) => f.allowed).map((f) => [f.code, f.severity, f.allowed!.reason]), [
    ['create-index-blocking', 'info', 'orders is written by a nightly job only, checked 2025-03-01'],
    ['create-index-blocking', 'info', 'orders is written by a nightly job only, checked 2025-03-01'],
  ]);
  const applied = await project.run(['migrate:latest', '--pre-deploy']);
  t.is(applied.code, 0, applied.stderr);
  t.deepEqual(await db.knex('knex_migrations').orderBy('id').pluck('name'), ['001_create.js', '002_indexes.js']);
});

test('the array form of allowUnsafe refuses the migration with the corrected config written out; nothing is applied', async (t) => {
  const { db, project } = await setUp(t);
  await project.write('migrations/002_indexes.js', `exports.config = { allowUnsafe: ['create-index-blocking'] };\n${INDEXES}`);
  const refused = await project.run(['migrate:latest']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /\[invalid-allow-unsafe\] 002_indexes\.js: 002_indexes\.js: config\.allowUnsafe is an array \(\["create-index-blocking"\]\)/);
  t.regex(refused.stderr, /allowUnsafe: \{ 'create-index-blocking': '<why it is safe here: table size, traffic, who checked and when>' \}/);
  t.deepEqual(await db.knex('knex_migrations').pluck('name'), ['001_create.js']);
});

test('check --format sarif validates against the SARIF 2.1.0 schema; --format github annotates the lines; --json with another format is refused', async (t) => {
  const { project } = await setUp(t);
  await project.write('migrations/002_indexes.js', INDEXES);
  const sarif = await project.run(['check', '--format', 'sarif']);
  t.is(sarif.code, 1);
  const log = JSON.parse(sarif.stdout) as { runs: { results: { ruleId: string; level: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[] };
  t.deepEqual(sarifErrors(log), []);
  t.deepEqual(
    log.runs[0].results.map((r) => [r.ruleId, r.level, r.locations[0].physicalLocation.artifactLocation.uri, r.locations[0].physicalLocation.region.startLine]),
    [
      ['create-index-blocking', 'error', 'migrations/002_indexes.js', 3],
      ['create-index-blocking', 'note', 'migrations/002_indexes.js', 4],
    ],
  );
  const github = await project.run(['check', '--format', 'github']);
  t.is(github.code, 1);
  const lines = github.stdout.trim().split('\n');
  t.regex(lines[0], /^::error file=migrations\/002_indexes\.js,line=3,title=knex-zd create-index-blocking in 002_indexes\.js::Adding an index/);
  t.regex(lines[1], /^::notice file=migrations\/002_indexes\.js,line=4,title=knex-zd create-index-blocking in 002_indexes\.js::.*%0A%0ASmall table: lookup has ~3 rows/);
  t.is(lines[2], 'knex-zd check: 2 migrations, 1 error, 1 note');
  const both = await project.run(['check', '--json', '--format', 'sarif']);
  t.is(both.code, 2);
  // --json asks for JSON, so the error is the one JSON document on stdout.
  t.regex(JSON.parse(both.stdout).error.message, /--json is short for --format json, so it cannot be combined with --format sarif/);
  const unknown = await project.run(['check', '--format', 'xml']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /--format must be one of text, json, sarif, github; got "xml"/);
});

test('migrate:plan --format markdown: a pull-request comment with the SQL, the locks and sizes, and the findings', async (t) => {
  const { project } = await setUp(t);
  await project.write('migrations/002_indexes.js', INDEXES);
  const markdown = await project.run(['migrate:plan', '--pre-deploy', '--format', 'markdown']);
  t.is(markdown.code, 1);
  t.true(markdown.stdout.startsWith('## knex-zd migration plan\n\n**1 pre-deploy migration to apply.**'), markdown.stdout);
  t.regex(markdown.stdout, /### `002_indexes\.js`\n\npre-deploy \(inferred\) · in a transaction/);
  t.regex(markdown.stdout, /1\. \*\*CREATE INDEX\*\* · SHARE on `orders` · scans table\n {3}- orders: \\~20,000 rows, [\d.]+ [MkB]+; blocks writes for \\~\d+ ms \(index build\)\n\n {3}```sql\n {3}create index "orders_customer_id_index" on "orders" \("customer_id"\)\n {3}```/);
  t.regex(markdown.stdout, /#### Findings: 1 error, 0 warnings, 1 note/);
  t.regex(markdown.stdout, /```js\n {2}const \{ addIndexConcurrently \} = require\('knex-zero-downtime'\);\n {2}await addIndexConcurrently\(knex, 'orders', \['customer_id'\], \{ name: 'orders_customer_id_index' \}\);\n {2}```/);
});
