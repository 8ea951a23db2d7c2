import test from 'ava';
import { lockHeldAcrossStatements } from '../../../src/checks/unsafe/lock-held-across-statements.js';
import { parseSettings } from '../../../src/config.js';
import type { MigrationReport } from '../../../src/analysis/migration-types.js';
import { report } from './support.js';

function run(m: MigrationReport, zeroDowntime: unknown = {}) {
  return lockHeldAcrossStatements.run({ migrations: [m], settings: parseSettings(zeroDowntime) });
}

test('a data statement after an ACCESS EXCLUSIVE lock in the same transaction: the lock is held through it', async (t) => {
  const m = await report('005_add_and_fill.js', ['ALTER TABLE orders ADD COLUMN currency text', "UPDATE orders SET currency = 'EUR'"]);
  const [finding] = run(m);
  t.is(finding.code, 'lock-held-across-statements');
  t.is(finding.severity, 'error');
  t.is(finding.statement, "UPDATE orders SET currency = 'EUR'");
  t.deepEqual(finding.tables, ['orders']);
  t.is(
    finding.message,
    '005_add_and_fill.js takes an ACCESS EXCLUSIVE lock on orders (ALTER TABLE orders ADD COLUMN currency text) and holds it to the end of its transaction, ' +
      `through a later statement that reads or changes rows of orders (UPDATE orders SET currency = 'EUR'): every read and write of orders waits for all of it.`,
  );
});

test('a scan after the lock (an index build on the locked table) is reported; catalog-only statements on the same table are not', async (t) => {
  const index = await report('m1', ['ALTER TABLE orders ADD COLUMN c int', 'CREATE INDEX orders_c ON orders (c)']);
  t.deepEqual(run(index).map((f) => [f.severity, f.statement]), [['error', 'CREATE INDEX orders_c ON orders (c)']]);
  const catalog = await report('m2', [
    'ALTER TABLE orders ADD COLUMN c int',
    'ALTER TABLE orders ALTER COLUMN c SET DEFAULT 0',
    "COMMENT ON COLUMN orders.c IS 'count'",
    'ALTER TABLE orders ADD CONSTRAINT orders_c_pos CHECK (c >= 0) NOT VALID',
  ]);
  t.deepEqual(run(catalog), []);
});

test('a rewrite that takes ACCESS EXCLUSIVE itself adds nothing; INSERT … VALUES and new tables are cheap', async (t) => {
  t.deepEqual(run(await report('m1', ['ALTER TABLE orders ALTER COLUMN c DROP DEFAULT', 'ALTER TABLE orders ALTER COLUMN c TYPE bigint'])), []);
  t.deepEqual(run(await report('m2', ['ALTER TABLE orders ADD COLUMN c int', "INSERT INTO orders (id, c) VALUES (1, 2)"])), []);
  t.deepEqual(run(await report('m3', ['ALTER TABLE orders ADD COLUMN c int', 'CREATE TABLE audit (id int)', 'INSERT INTO audit SELECT 1', 'CREATE INDEX audit_id ON audit (id)'])), []);
  t.deepEqual(run(await report('m4', ['CREATE TABLE t (id int)', 'ALTER TABLE t ADD COLUMN c int', 'UPDATE t SET c = 1'])), []);
});

test('waiting for a lock on another existing table while holding one: a warning with timeouts off, bounded by lock_timeout otherwise', async (t) => {
  const m = await report('m1', ['ALTER TABLE orders ADD COLUMN c int', 'ALTER TABLE customers ADD COLUMN d int']);
  t.deepEqual(run(m), []);
  const [finding] = run(m, { timeouts: false });
  t.is(finding.severity, 'warning');
  t.is(finding.tables, undefined);
  t.regex(finding.message, /through a later statement that must first get an ACCESS EXCLUSIVE lock on customers, and waits behind every query running there \(ALTER TABLE customers ADD COLUMN d int\): every read and write of orders waits for all of it\.$/);
});

test('only statements of one transaction: not across a non-transactional migration or operation steps of their own', async (t) => {
  const outside = await report('m1', ['ALTER TABLE orders ADD COLUMN c int', 'UPDATE orders SET c = 1'], { transaction: false });
  t.deepEqual(run(outside), []);
  const own = await report('m2', ['ALTER TABLE orders ADD COLUMN c int', { sql: 'UPDATE orders SET c = 1', stepTransaction: 'none' }]);
  t.deepEqual(run(own), []);
  const explicit = await report(
    'm3',
    [
      { sql: 'ALTER TABLE orders ADD COLUMN c int', inExplicitTransaction: true },
      { sql: 'UPDATE orders SET c = 1', inExplicitTransaction: true },
    ],
    { transaction: false },
  );
  t.is(run(explicit).length, 1);
});
