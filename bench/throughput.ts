/**
 * Measures the throughput constants that `migrate:plan` uses to estimate how long a lock is held
 * (src/analysis/throughput.ts), on this machine and server:
 *
 *   node --import tsx bench/throughput.ts [--rows 1000000] [--database-url URL]
 *
 * It builds a table of `--rows` rows in a scratch database (dropped at the end), times the
 * statements whose duration the plan estimates (a CHECK validation scan, an index build, a table
 * rewrite, a foreign key validation, a whole-table UPDATE), each twice, and prints the mean
 * rates. They are rough and per-machine: a faster disk, more memory or `maintenance_work_mem`
 * change them several-fold. Paste the printed object into src/analysis/throughput.ts.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import knexFactory, { type Knex } from 'knex';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '1000000' }, 'database-url': { type: 'string' } },
});
const ROWS = Number(values.rows);
const SERVER = values['database-url'] ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function timed(knex: Knex, sql: string, reset?: string): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < 2; i++) {
    if (reset) await knex.raw(reset);
    await knex.raw('CHECKPOINT');
    const start = process.hrtime.bigint();
    await knex.raw(sql);
    runs.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  return (runs[0] + runs[1]) / 2;
}

async function size(knex: Knex, fn: 'pg_relation_size' | 'pg_total_relation_size', table: string): Promise<number> {
  const { rows } = await knex.raw<{ rows: { bytes: string }[] }>(`SELECT ${fn}(?::regclass) AS bytes`, [table]);
  return Number(rows[0].bytes);
}

async function main(): Promise<void> {
  const name = `zd_throughput_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: SERVER, pool: { min: 0, max: 1 } });
  await admin.raw('CREATE DATABASE ??', [name]);
  const url = new URL(SERVER);
  url.pathname = `/${name}`;
  const knex = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 1 } });
  try {
    await knex.raw('CREATE TABLE parent (id bigint PRIMARY KEY)');
    await knex.raw('INSERT INTO parent SELECT g FROM generate_series(1, 1000) g');
    await knex.raw(`CREATE TABLE t (id bigint PRIMARY KEY, a int NOT NULL, ref bigint, b text, c timestamptz)`);
    await knex.raw(
      `INSERT INTO t SELECT g, g % 1000, g % 1000 + 1, md5(g::text) || md5((g * 7)::text), now() - g * interval '1 second' FROM generate_series(1, ?) g`,
      [ROWS],
    );
    await knex.raw('VACUUM ANALYZE t');
    const heap = await size(knex, 'pg_relation_size', 't');
    const total = await size(knex, 'pg_total_relation_size', 't');

    const scan = await timed(knex, 'ALTER TABLE t ADD CONSTRAINT t_a_check CHECK (a >= 0)', 'ALTER TABLE t DROP CONSTRAINT IF EXISTS t_a_check');
    const index = await timed(knex, 'CREATE INDEX t_b_idx ON t (b)', 'DROP INDEX IF EXISTS t_b_idx');
    await knex.raw('DROP INDEX IF EXISTS t_b_idx');
    const fk = await timed(
      knex,
      'ALTER TABLE t ADD CONSTRAINT t_ref_fk FOREIGN KEY (ref) REFERENCES parent (id)',
      'ALTER TABLE t DROP CONSTRAINT IF EXISTS t_ref_fk',
    );
    await knex.raw('ALTER TABLE t DROP CONSTRAINT IF EXISTS t_ref_fk');
    const update = await timed(knex, 'UPDATE t SET a = a + 1');
    await knex.raw('VACUUM FULL t');
    const rewriteTotal = await size(knex, 'pg_total_relation_size', 't');
    // A type change that rewrites the heap and rebuilds the primary key: bytes of the whole relation per second.
    const rewrite = await timed(knex, 'ALTER TABLE t ALTER COLUMN a TYPE bigint', 'ALTER TABLE t ALTER COLUMN a TYPE int');

    const rates = {
      scanBytesPerSecond: Math.round(heap / scan),
      indexRowsPerSecond: Math.round(ROWS / index),
      rewriteBytesPerSecond: Math.round(rewriteTotal / rewrite),
      foreignKeyRowsPerSecond: Math.round(ROWS / fk),
      updateRowsPerSecond: Math.round(ROWS / update),
    };
    const version = (await knex.raw<{ rows: { server_version: string }[] }>('SHOW server_version')).rows[0].server_version;
    console.log(`PostgreSQL ${version}, ${ROWS} rows, heap ${(heap / 1e6).toFixed(1)} MB, total ${(total / 1e6).toFixed(1)} MB`);
    console.log(`CHECK validation ${scan.toFixed(3)} s, index build ${index.toFixed(3)} s, foreign key ${fk.toFixed(3)} s, UPDATE ${update.toFixed(3)} s, rewrite ${rewrite.toFixed(3)} s`);
    console.log(JSON.stringify(rates, null, 2));
  } finally {
    await knex.destroy();
    await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
    await admin.destroy();
  }
}

await main();
