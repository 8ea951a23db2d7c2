import test from 'ava';
import { estimateLocks, formatBytes, formatSeconds, formatTableSize, trafficBlockedBy } from '../../../src/analysis/lock-estimate.js';
import { THROUGHPUT } from '../../../src/analysis/throughput.js';
import { facts, report } from '../checks/support.js';

const BIG = { rows: 1_000_000, heapBytes: 134_000_000, totalBytes: 157_000_000, indexes: 2 };

async function estimate(sql: string, target = facts({ orders: BIG, customers: { rows: 1000 } })) {
  const m = await report('m', [sql]);
  return estimateLocks(m.statements[0], target);
}

test('what each lock mode blocks of the application', (t) => {
  t.is(trafficBlockedBy('ACCESS EXCLUSIVE'), 'reads and writes');
  t.is(trafficBlockedBy('SHARE'), 'writes');
  t.is(trafficBlockedBy('SHARE ROW EXCLUSIVE'), 'writes');
  t.is(trafficBlockedBy('EXCLUSIVE'), 'writes');
  t.is(trafficBlockedBy('SHARE UPDATE EXCLUSIVE'), null);
  t.is(trafficBlockedBy('ROW EXCLUSIVE'), null);
});

test('an index build blocks writes for rows over the index rate', async (t) => {
  const [e] = await estimate('CREATE INDEX orders_c ON orders (c)');
  t.like(e, { relation: 'orders', mode: 'SHARE', blocks: 'writes', work: 'index build' });
  t.is(e.seconds, 1_000_000 / THROUGHPUT.indexRowsPerSecond);
});

test('a rewrite blocks reads and writes for the whole relation over the rewrite rate', async (t) => {
  const [e] = await estimate('ALTER TABLE orders ALTER COLUMN c TYPE bigint');
  t.like(e, { blocks: 'reads and writes', work: 'rewrite' });
  t.is(e.seconds, 157_000_000 / THROUGHPUT.rewriteBytesPerSecond);
});

test('a validation scan reads the heap; a foreign key validates the referencing rows and only locks the other table', async (t) => {
  const [check] = await estimate('ALTER TABLE orders ADD CONSTRAINT c_pos CHECK (c > 0)');
  t.like(check, { blocks: 'reads and writes', work: 'scan', seconds: 134_000_000 / THROUGHPUT.scanBytesPerSecond });
  const [fk, ref] = await estimate('ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers (id)');
  t.like(fk, { relation: 'orders', blocks: 'writes', work: 'foreign key validation', seconds: 1_000_000 / THROUGHPUT.foreignKeyRowsPerSecond });
  t.like(ref, { relation: 'customers', blocks: 'writes', work: null, seconds: null });
});

test('a whole-table UPDATE blocks writes to its rows; a bounded one and catalog-only statements have no work', async (t) => {
  const [update] = await estimate("UPDATE orders SET status = 'x'");
  t.like(update, { mode: 'ROW EXCLUSIVE', blocks: 'writes', work: 'row changes', seconds: 1_000_000 / THROUGHPUT.updateRowsPerSecond });
  const [bounded] = await estimate("UPDATE orders SET status = 'x' WHERE id = 1");
  t.like(bounded, { blocks: null, work: null, seconds: null });
  const [add] = await estimate('ALTER TABLE orders ADD COLUMN x int');
  t.like(add, { blocks: 'reads and writes', work: null, seconds: null });
  t.deepEqual(add.stats?.rows, 1_000_000);
});

test('REINDEX TABLE rebuilds every index; a table not in the target has no stats', async (t) => {
  const [reindex] = await estimate('REINDEX TABLE orders');
  t.like(reindex, { work: 'index build', seconds: (2 * 1_000_000) / THROUGHPUT.indexRowsPerSecond });
  const [missing] = await estimate('CREATE INDEX x ON newer (c)', facts({ newer: null }));
  t.like(missing, { stats: null, seconds: null, work: 'index build' });
});

test('formats: an order of magnitude, never a false precision', (t) => {
  t.is(formatSeconds(0.0004), '<1 ms');
  t.is(formatSeconds(0.0571), '~57 ms');
  t.is(formatSeconds(2.345), '~2.3 s');
  t.is(formatSeconds(42.4), '~42 s');
  t.is(formatSeconds(600), '~10 min');
  t.is(formatSeconds(7200), '~2.0 h');
  t.is(formatBytes(0), '0 bytes');
  t.is(formatBytes(49_152), '48 kB');
  t.is(formatBytes(157_000_000), '150 MB');
  const base = { table: 't', kind: 'r', throughIndex: false, heapBytes: 8192, totalBytes: 8192, indexes: 0 };
  t.is(formatTableSize({ ...base, rows: 1, rowsSource: 'statistics' }), '~1 row, 8.0 kB');
  t.is(formatTableSize({ ...base, rows: 0, rowsSource: 'empty', totalBytes: 0 }), '0 rows, 0 bytes');
  t.is(formatTableSize({ ...base, rows: 127, rowsSource: 'size' }), '~127 rows, 8.0 kB (never analysed: rows estimated from its size)');
  t.is(formatTableSize({ ...base, rows: null, rowsSource: null }), 'rows unknown, 8.0 kB');
});

test("the README's figures for checks.smallTable: a 10,000-row table (1.5 MB) is indexed in ~30 ms, rewritten in ~20 ms, updated in ~0.1 s", async (t) => {
  const target = facts({ orders: { rows: 10_000, heapBytes: 1_300_000, totalBytes: 1_500_000, indexes: 1 } });
  const seconds = async (sql: string) => (await estimate(sql, target))[0].seconds!;
  t.is(formatSeconds(await seconds('CREATE INDEX orders_c ON orders (c)')), '~29 ms');
  t.is(formatSeconds(await seconds('ALTER TABLE orders ALTER COLUMN c TYPE bigint')), '~21 ms');
  t.is(formatSeconds(await seconds("UPDATE orders SET status = 'x'")), '~125 ms');
});
