import test from 'ava';
import { runChecks, CHECKS } from '../../../src/checks/index.js';
import { isSmallTable } from '../../../src/checks/small-table.js';
import { parseSettings } from '../../../src/config.js';
import { facts, report } from './support.js';

const settings = parseSettings({});
const INDEX = 'CREATE INDEX lookup_name_idx ON lookup (name)';

test('an unsafe finding on a table below checks.smallTable becomes a note that says why', async (t) => {
  const m = await report('002_index.js', [INDEX]);
  const result = runChecks([m], settings, CHECKS, facts({ lookup: { rows: 40, totalBytes: 49_152 } }));
  t.is(result.errors, 0);
  const [finding] = result.findings;
  t.is(finding.severity, 'info');
  t.deepEqual(finding.tables, ['lookup']);
  t.is(finding.smallTable?.note, 'lookup has ~40 rows, 48 kB in the target database: below checks.smallTable (10,000 rows), the lock is held for milliseconds.');
});

test('a big, unknown or unread table keeps the finding an error', async (t) => {
  const m = await report('002_index.js', [INDEX]);
  const severity = (target: Parameters<typeof runChecks>[3]) => runChecks([m], settings, CHECKS, target).findings[0].severity;
  t.is(severity(facts({ lookup: { rows: 10_000 } })), 'error');
  t.is(severity(facts({ lookup: { rows: null, rowsSource: null } })), 'error');
  t.is(severity(facts({})), 'error');
  t.is(severity(facts({ lookup: null })), 'error'); // not in the target, and no earlier migration creates it
  t.is(severity({ serverVersion: null, tables: facts({ lookup: { rows: 1 } }).tables, error: 'permission denied' }), 'error');
  t.is(severity(undefined), 'error');
});

test('a table of few rows that are mostly TOAST is not small', (t) => {
  const base = { table: 't', kind: 'r', throughIndex: false, rowsSource: 'statistics' as const, heapBytes: 8192, indexes: 0 };
  t.true(isSmallTable({ ...base, rows: 9_999, totalBytes: 81_000_000 }, 10_000));
  t.false(isSmallTable({ ...base, rows: 9_999, totalBytes: 82_000_000 }, 10_000));
  t.false(isSmallTable({ ...base, rows: 5, totalBytes: 100 }, 0));
});

test('checks.smallTable: 0 turns notes off; a lower threshold keeps bigger tables errors', async (t) => {
  const m = await report('002_index.js', [INDEX]);
  const target = facts({ lookup: { rows: 40 } });
  t.is(runChecks([m], parseSettings({ checks: { smallTable: 0 } }), CHECKS, target).findings[0].severity, 'error');
  t.is(runChecks([m], parseSettings({ checks: { smallTable: 40 } }), CHECKS, target).findings[0].severity, 'error');
  t.is(runChecks([m], parseSettings({ checks: { smallTable: 41 } }), CHECKS, target).findings[0].severity, 'info');
});

test('every table the statement locks must be small (a foreign key locks two)', async (t) => {
  const m = await report('002_fk.js', ['ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)']);
  const run = (target: ReturnType<typeof facts>) => runChecks([m], settings, CHECKS, target).findings.map((f) => [f.code, f.severity]);
  t.deepEqual(run(facts({ orders: { rows: 10 }, customers: { rows: 5_000_000 } })), [['foreign-key-validating', 'error']]);
  t.deepEqual(run(facts({ orders: { rows: 10 }, customers: { rows: 3 } })), [['foreign-key-validating', 'info']]);
});

test('findings that hurt whatever the size stay errors: renames, NOT NULL without default, TRUNCATE CASCADE, locks', async (t) => {
  const m = await report('003_mixed.js', [
    'ALTER TABLE lookup RENAME COLUMN name TO label',
    'ALTER TABLE lookup ADD COLUMN code text NOT NULL',
    'TRUNCATE lookup CASCADE',
    'LOCK TABLE lookup IN SHARE MODE',
    'ALTER TABLE lookup DETACH PARTITION lookup_old',
  ]);
  const result = runChecks([m], settings, CHECKS, facts({ lookup: { rows: 3 }, lookup_old: { rows: 1 } }));
  t.deepEqual(
    result.findings.map((f) => [f.code, f.severity]),
    [
      ['rename-column', 'error'],
      ['not-null-without-default', 'error'],
      ['truncate-cascade', 'error'],
      ['lock-table', 'error'],
      ['detach-partition-blocking', 'warning'],
    ],
  );
});

test('a table an earlier migration of the run creates holds no rows yet', async (t) => {
  const create = await report('001_create.js', ['CREATE TABLE lookup (id int, name text)']);
  const index = await report('002_index.js', [INDEX]);
  const result = runChecks([create, index], settings, CHECKS, facts({ lookup: null }));
  t.deepEqual(result.findings.map((f) => [f.code, f.severity, f.smallTable?.note]), [
    ['create-index-blocking', 'info', 'lookup is created by 001_create.js, earlier in this run, so it holds no rows yet: below checks.smallTable (10,000 rows), the lock is held for milliseconds.'],
  ]);
  // Created by a later migration: the index runs first, on whatever the table holds then.
  t.is(runChecks([index, { ...create, name: '003_create.js' }], settings, CHECKS, facts({ lookup: null })).findings[0].severity, 'error');
});

test('whole-table updates and rewrites of small tables are notes too; an opted-out finding stays allowed', async (t) => {
  const m = await report('004_data.js', ["UPDATE lookup SET name = 'x'", 'ALTER TABLE lookup ALTER COLUMN id TYPE bigint'], {
    allowUnsafe: { 'column-type-rewrite': 'reviewed' },
  });
  const result = runChecks([m], settings, CHECKS, facts({ lookup: { rows: 12 } }));
  t.deepEqual(result.findings.map((f) => [f.code, f.severity, Boolean(f.smallTable), f.allowed?.reason]), [
    ['whole-table-update', 'info', true, undefined],
    ['column-type-rewrite', 'info', false, 'reviewed'],
  ]);
});
