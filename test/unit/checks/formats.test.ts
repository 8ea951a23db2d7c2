import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { CheckFinding, MigrationReport } from '../../../src/analysis/migration-types.js';
import { CHECKS, checkRules, runChecks } from '../../../src/checks/index.js';
import { parseSettings } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';
import { checkGithub, escapeData, escapeProperty } from '../../../src/cli/formats/github.js';
import { CHECK_FORMATS, PLAN_FORMATS, formatOf } from '../../../src/cli/formats/index.js';
import { findLine } from '../../../src/cli/formats/locate.js';
import { planMarkdown } from '../../../src/cli/formats/markdown.js';
import { sarifLog } from '../../../src/cli/formats/sarif.js';
import { sarifErrors } from '../../helpers/sarif.js';
import { facts, report } from './support.js';

const FILE = `// adds an index
exports.config = { allowUnsafe: { 'rename-column': 'no reader left' } };

exports.up = async (knex) => {
  await knex.raw('CREATE INDEX orders_c ON orders (c)');
  await knex.schema.alterTable('orders', (t) => { t.renameColumn('a', 'b'); });
  await knex('orders').update({ status: 'done' });
};

exports.down = async (knex) => {
  await knex('orders').update({ status: null });
};
`;

async function project(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'knex-zd-formats-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'migrations', '002 index, "quoted".js');
  await (await import('node:fs/promises')).mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, FILE);
  const m = await report('002 index, "quoted".js', ['CREATE INDEX orders_c ON orders (c)', 'alter table "orders" rename "a" to "b"', `update "orders" set "status" = 'done'`], {
    allowUnsafe: { 'rename-column': 'no reader left' },
  });
  const migration: MigrationReport = { ...m, file };
  const result = runChecks([migration], parseSettings({}), CHECKS, facts({ orders: { rows: 2_000_000 } }));
  return { dir, migration, result };
}

test('escaping of workflow commands, as GitHub documents it', (t) => {
  t.is(escapeData('100% done\r\nnext: a, b'), '100%25 done%0D%0Anext: a, b');
  t.is(escapeProperty('100% done\r\nnext: a, b'), '100%25 done%0D%0Anext%3A a%2C b');
});

test('--format github: one annotation per finding on the line of its statement, then a summary', async (t) => {
  const { dir, migration, result } = await project(t);
  const lines = checkGithub({ migrations: [migration], result, root: dir }).split('\n');
  t.is(
    lines[0].slice(0, lines[0].indexOf('::', 2)),
    '::error file=migrations/002 index%2C "quoted".js,line=5,title=knex-zd create-index-blocking in 002 index%2C "quoted".js',
  );
  t.true(lines[0].includes('::Adding an index non-concurrently blocks writes to "orders"'));
  // A CommonJS migration (.js, no package.json with "type": "module"): the hint requires the operation.
  t.true(lines[0].includes("%0A%0ASafe alternative:%0Aconst { addIndexConcurrently } = require('knex-zero-downtime');%0Aawait addIndexConcurrently(knex, 'orders', ['c'], { name: 'orders_c' });"));
  t.regex(lines[1], /^::notice file=migrations\/002 index%2C "quoted"\.js,line=2,title=knex-zd rename-column in .*::.*%0A%0AAllowed by config\.allowUnsafe: no reader left$/);
  t.regex(lines[2], /^::error file=migrations\/002 index%2C "quoted"\.js,line=7,title=knex-zd whole-table-update/);
  t.regex(lines[3], /^::error file=migrations\/002 index%2C "quoted"\.js,line=7,title=knex-zd lock-held-across-statements/);
  t.is(lines.at(-1), 'knex-zd check: 1 migration, 3 errors, 1 note');
  t.false(lines.slice(0, -1).some((l) => l.includes('\n') || l.includes('\r')));
});

test('--format sarif: valid against the SARIF 2.1.0 schema, a rule for every check id, results located in the file', async (t) => {
  const { dir, migration, result } = await project(t);
  const log = sarifLog({ migrations: [migration], result, rules: checkRules(), root: dir });
  t.deepEqual(sarifErrors(log), []);
  const run = log.runs[0];
  t.deepEqual(
    run.tool.driver.rules.map((r) => r.id),
    checkRules().map((r) => r.id),
  );
  for (const id of ['create-index-blocking', 'not-null-without-default', 'lock-held-across-statements', 'concurrent-index-corruption', 'invalid-allow-unsafe', 'missing-down']) {
    t.true(run.tool.driver.rules.some((r) => r.id === id), id);
  }
  t.deepEqual(
    run.results.map((r) => [r.ruleId, r.level, r.locations[0].physicalLocation?.artifactLocation.uri, r.locations[0].physicalLocation?.region.startLine]),
    [
      ['create-index-blocking', 'error', 'migrations/002%20index,%20%22quoted%22.js', 5],
      ['rename-column', 'note', 'migrations/002%20index,%20%22quoted%22.js', 2],
      ['whole-table-update', 'error', 'migrations/002%20index,%20%22quoted%22.js', 7],
      ['lock-held-across-statements', 'error', 'migrations/002%20index,%20%22quoted%22.js', 7],
    ],
  );
  for (const r of run.results) t.is(run.tool.driver.rules[r.ruleIndex].id, r.ruleId);
  t.deepEqual(run.results[1].suppressions, [{ kind: 'inSource', status: 'accepted', justification: 'no reader left' }]);
  t.is(run.originalUriBaseIds['%SRCROOT%'].uri, `file://${dir}/`);
  // A log the validator must refuse, so that the assertion above can fail.
  t.notDeepEqual(sarifErrors({ ...log, version: '2.0.0' }), []);
});

test('findLine: the statement, the table in the up function, the config, else the up function or line 1', (t) => {
  const at = (finding: Partial<CheckFinding>) => findLine(FILE, { code: 'x', severity: 'error', message: '', migration: 'm', ...finding });
  t.is(at({ statement: 'CREATE INDEX orders_c ON orders (c)' }), 5);
  t.is(at({ statement: `update "orders" set "status" = 'done'` }), 7);
  t.is(at({ statement: 'alter table "orders" rename "a" to "b"' }), 6);
  t.is(at({ code: 'invalid-allow-unsafe' }), 2);
  t.is(at({ allowed: { reason: 'r' }, statement: 'alter table "orders" rename "a" to "b"' }), 2);
  t.is(at({ code: 'missing-down' }), 4);
  t.is(findLine('// nothing here', { code: 'x', severity: 'error', message: '', migration: 'm' }), 1);
});

test('--format and --json: --json is --format json; unknown formats and contradictions are usage errors', (t) => {
  t.is(formatOf('check', {}, CHECK_FORMATS), 'text');
  t.is(formatOf('check', { json: true }, CHECK_FORMATS), 'json');
  t.is(formatOf('check', { format: 'sarif' }, CHECK_FORMATS), 'sarif');
  t.is(formatOf('check', { format: 'json', json: true }, CHECK_FORMATS), 'json');
  t.is(formatOf('migrate:plan', { format: 'markdown' }, PLAN_FORMATS), 'markdown');
  t.is(
    t.throws(() => formatOf('check', { format: 'markdown' }, CHECK_FORMATS), { instanceOf: ConfigError })?.message,
    'check: --format must be one of text, json, sarif, github; got "markdown".',
  );
  t.is(
    t.throws(() => formatOf('check', { format: 'sarif', json: true }, CHECK_FORMATS), { instanceOf: ConfigError })?.message,
    'check: --json is short for --format json, so it cannot be combined with --format sarif; give one of them.',
  );
});

test('--format markdown: SQL in fences that its own backticks cannot close, sizes, findings with the safe alternative', async (t) => {
  const m = await report('002_x.js', ['CREATE INDEX orders_c ON orders (c)', "COMMENT ON TABLE orders IS 'has ``` inside'"]);
  const target = facts({ orders: { rows: 1_000_000, totalBytes: 157_000_000, heapBytes: 134_000_000 } });
  const checks = runChecks([m], parseSettings({}), CHECKS, target);
  const text = planMarkdown({ direction: 'up', stage: 'pre-deploy', migrations: [m], skipped: [], conflicts: [], waiting: [], checks, target, analysis: { mode: 'capture', schema: null, database: null, notice: null }, completed: [], missing: [] });
  t.true(text.startsWith('## knex-zd migration plan\n\n**1 pre-deploy migration to apply.**\n\n_Sizes from the target database (PostgreSQL 15.4); lock times are rough estimates._'));
  t.true(text.includes('1. **CREATE INDEX** · SHARE on `orders` · scans table\n   - orders: \\~1,000,000 rows, 150 MB; blocks writes for \\~2.9 s (index build)\n\n   ```sql\n   CREATE INDEX orders_c ON orders (c)\n   ```'));
  t.true(text.includes("   ````sql\n   COMMENT ON TABLE orders IS 'has ``` inside'\n   ````"));
  t.true(text.includes('#### Findings: 1 error, 0 warnings, 0 notes'));
  t.true(text.includes("  ```js\n  await addIndexConcurrently(knex, 'orders', ['c'], { name: 'orders_c' });\n  ```"));
});

test('describeLock: rows, size, what the lock blocks and for how long; an index names its table; a missing table says so', async (t) => {
  const { describeLock } = await import('../../../src/cli/format.js');
  const base = { relation: 'orders', mode: 'SHARE' as const, blocks: 'writes' as const, work: 'index build' as const, seconds: 0.057 };
  const stats = { table: 'orders', kind: 'r', throughIndex: false, rows: 20_000, rowsSource: 'statistics' as const, heapBytes: 1_000_000, totalBytes: 1_363_968, indexes: 1 };
  t.is(describeLock({ ...base, stats }), 'orders: ~20,000 rows, 1.3 MB; blocks writes for ~57 ms (index build)');
  t.is(
    describeLock({ ...base, relation: 'orders_pkey', mode: 'ACCESS EXCLUSIVE', blocks: 'reads and writes', work: null, seconds: null, stats: { ...stats, throughIndex: true } }),
    'orders_pkey (an index of orders): ~20,000 rows, 1.3 MB',
  );
  t.is(describeLock({ ...base, relation: 'orders', mode: 'SHARE UPDATE EXCLUSIVE', blocks: null, seconds: 3.2, stats }), 'orders: ~20,000 rows, 1.3 MB; ~3.2 s (index build), blocking neither reads nor writes');
  t.is(describeLock({ ...base, stats: null }), 'orders: not in the target database yet');
});

test.serial('paths are relative to $GITHUB_WORKSPACE, else the git repository around the project, else the project folder', async (t) => {
  const { repositoryRoot } = await import('../../../src/cli/formats/locate.js');
  const { mkdir } = await import('node:fs/promises');
  const repo = await mkdtemp(path.join(os.tmpdir(), 'knex-zd-repo-'));
  t.teardown(() => rm(repo, { recursive: true, force: true }));
  const app = path.join(repo, 'services', 'app');
  await mkdir(app, { recursive: true });
  const saved = process.env.GITHUB_WORKSPACE;
  delete process.env.GITHUB_WORKSPACE;
  t.teardown(() => {
    if (saved === undefined) delete process.env.GITHUB_WORKSPACE;
    else process.env.GITHUB_WORKSPACE = saved;
  });
  t.is(repositoryRoot(app), app);
  await mkdir(path.join(repo, '.git'));
  t.is(repositoryRoot(app), repo);
  process.env.GITHUB_WORKSPACE = path.join(repo, 'services');
  t.is(repositoryRoot(app), path.join(repo, 'services'));
  process.env.GITHUB_WORKSPACE = os.tmpdir() === '/' ? '/nonexistent' : path.join(repo, 'elsewhere');
  t.is(repositoryRoot(app), repo);
});
