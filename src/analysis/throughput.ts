/**
 * How fast PostgreSQL gets through the work a statement does while it holds its lock, used by
 * `migrate:plan` for a rough estimate of how long a write- or read-blocking lock is held.
 *
 * Measured by `node --import tsx bench/throughput.ts --rows 1000000` on the machine this package
 * is developed on (2 shared cores, PostgreSQL 15, a table of 1M rows / 134 MB that fits in
 * memory; two runs each, rounded down). They are rough and per-machine: a table larger than
 * memory scans at the disk's speed, and `maintenance_work_mem`, the column types and the load
 * of the server change them several-fold. Read an estimate as an order of magnitude (10 ms,
 * 1 s, 1 min), never as a promise; run the script on your own server for your numbers.
 */
export const THROUGHPUT = Object.freeze({
  /** A validation scan of the heap (ADD CHECK, SET NOT NULL): bytes of the table per second. */
  scanBytesPerSecond: 1_000_000_000,
  /** An index build (CREATE INDEX, ADD UNIQUE/PRIMARY KEY, REINDEX): rows per second, per index. */
  indexRowsPerSecond: 350_000,
  /** A table rewrite (ALTER COLUMN TYPE, VACUUM FULL, a volatile default): bytes of table and indexes per second. */
  rewriteBytesPerSecond: 70_000_000,
  /** A foreign key validation: rows of the referencing table per second. */
  foreignKeyRowsPerSecond: 2_000_000,
  /** An UPDATE or DELETE of every row: rows per second. */
  updateRowsPerSecond: 80_000,
});
