/**
 * Benchmark: the longest stall a concurrent writer sees while each safe operation runs,
 * against the plain knex equivalent, on the same table in the same run.
 *
 *   node --import tsx bench/operations.ts [--sizes 1000000,5000000]
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import {
  addCheckConstraint,
  addForeignKey,
  addIndexConcurrently,
  addUniqueConstraint,
  backfill,
  setNotNull,
} from '../src/operations/index.js';

/** One line of the result: an operation on a table size, safe vs plain. */
export interface OperationBenchRow {
  readonly operation: string;
  readonly rows: number;
  /** Longest single write (INSERT or UPDATE) the writer saw during the safe operation, in ms. */
  readonly safeStallMs: number;
  /** The same during the plain knex equivalent. */
  readonly plainStallMs: number;
  /** plain / safe: how many times longer the writer waited with the plain operation. */
  readonly ratio: number;
  readonly safeDurationMs: number;
  readonly plainDurationMs: number;
}

/** Options of {@link benchOperations}. */
export interface OperationBenchOptions {
  /** Table sizes. @default [1_000_000, 5_000_000] */
  readonly sizes?: readonly number[];
  /** PostgreSQL server URL (a database is created and dropped on it). @default ZD_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres */
  readonly serverUrl?: string;
  /** Progress messages. */
  readonly log?: (line: string) => void;
}

interface Case {
  readonly operation: string;
  safe(knex: Knex): Promise<unknown>;
  plain(knex: Knex): Promise<unknown>;
  /** Undo between runs, so that both variants start from the same table. */
  undo(knex: Knex, variant: 'safe' | 'plain'): Promise<unknown>;
}

const CASES: readonly Case[] = [
  {
    operation: 'addIndexConcurrently',
    safe: (k) => addIndexConcurrently(k, 'items', ['n'], { name: 'items_n_idx' }),
    plain: (k) => k.schema.alterTable('items', (t) => t.index(['n'], 'items_n_idx')),
    undo: (k) => k.raw('DROP INDEX items_n_idx'),
  },
  {
    operation: 'addUniqueConstraint',
    safe: (k) => addUniqueConstraint(k, 'items', ['note'], { name: 'items_note_uq' }),
    plain: (k) => k.schema.alterTable('items', (t) => t.unique(['note'], { indexName: 'items_note_uq' })),
    undo: (k) => k.raw('ALTER TABLE items DROP CONSTRAINT items_note_uq'),
  },
  {
    operation: 'addCheckConstraint',
    safe: (k) => addCheckConstraint(k, 'items', 'items_n_ck', 'n >= 0'),
    plain: (k) => k.raw('ALTER TABLE items ADD CONSTRAINT items_n_ck CHECK (n >= 0)'),
    undo: (k) => k.raw('ALTER TABLE items DROP CONSTRAINT items_n_ck'),
  },
  {
    operation: 'addForeignKey',
    safe: (k) => addForeignKey(k, 'items', ['owner_id'], 'owners', ['id'], { name: 'items_owner_fk' }),
    plain: (k) => k.schema.alterTable('items', (t) => t.foreign('owner_id', 'items_owner_fk').references('owners.id')),
    undo: (k) => k.raw('ALTER TABLE items DROP CONSTRAINT items_owner_fk'),
  },
  {
    operation: 'setNotNull',
    safe: (k) => setNotNull(k, 'items', 'n'),
    plain: (k) => k.raw('ALTER TABLE items ALTER COLUMN n SET NOT NULL'),
    undo: (k) => k.raw('ALTER TABLE items ALTER COLUMN n DROP NOT NULL'),
  },
  {
    operation: 'backfill',
    safe: (k) => backfill(k, 'items', { copy_safe: k.raw('n') }, { batchSize: 10_000 }),
    plain: (k) => k('items').update({ copy_plain: k.raw('n') }),
    undo: () => Promise.resolve(), // each variant fills its own column
  },
];

async function startWriter(url: string): Promise<{ stop(): Promise<number> }> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench writer' });
  client.on('error', () => undefined);
  await client.connect();
  let running = true;
  let longest = 0;
  let i = 0;
  const prefix = `writer ${randomBytes(4).toString('hex')} `; // notes stay unique across runs (addUniqueConstraint)
  const loop = (async () => {
    while (running) {
      let started = performance.now();
      await client.query("INSERT INTO items (n, note, owner_id) VALUES ($1, $2, 1)", [i, prefix + String(i)]);
      longest = Math.max(longest, performance.now() - started);
      started = performance.now();
      await client.query('UPDATE items SET n = n + 1 WHERE id = $1', [1 + (i % 1000)]);
      longest = Math.max(longest, performance.now() - started);
      i++;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.end();
      return longest;
    },
  };
}

async function measure(url: string, run: () => Promise<unknown>): Promise<{ stall: number; duration: number }> {
  const writer = await startWriter(url);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = performance.now();
  let duration: number;
  try {
    await run();
  } finally {
    duration = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 100));
    var stall = await writer.stop(); // eslint-disable-line no-var
  }
  return { stall, duration };
}

/** Runs the benchmark and returns its rows (the CLI prints them as a table). */
export async function benchOperations(options: OperationBenchOptions = {}): Promise<OperationBenchRow[]> {
  const sizes = options.sizes ?? [1_000_000, 5_000_000];
  const serverUrl = options.serverUrl ?? process.env.ZD_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const log = options.log ?? (() => undefined);
  const rows: OperationBenchRow[] = [];
  for (const size of sizes) {
    const name = `zd_bench_ops_${randomBytes(4).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
    await admin.raw('CREATE DATABASE ??', [name]);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const knex = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 4 } });
    try {
      log(`seeding ${size} rows`);
      await knex.raw('CREATE TABLE owners (id int PRIMARY KEY); INSERT INTO owners SELECT g FROM generate_series(0, 1000) g');
      await knex.raw('CREATE TABLE items (id bigserial PRIMARY KEY, n int, note text, owner_id int, copy_safe int, copy_plain int)');
      await knex.raw("INSERT INTO items (n, note, owner_id) SELECT g, 'row ' || g, g % 1000 FROM generate_series(1, ?) g", [size]);
      await knex.raw('VACUUM ANALYZE items');
      for (const c of CASES) {
        const safe = await measure(url.toString(), () => c.safe(knex));
        await c.undo(knex, 'safe');
        const plain = await measure(url.toString(), () => c.plain(knex));
        await c.undo(knex, 'plain');
        const row: OperationBenchRow = {
          operation: c.operation,
          rows: size,
          safeStallMs: round(safe.stall),
          plainStallMs: round(plain.stall),
          ratio: round(plain.stall / Math.max(safe.stall, 0.001)),
          safeDurationMs: round(safe.duration),
          plainDurationMs: round(plain.duration),
        };
        log(`${c.operation} @ ${size}: safe ${row.safeStallMs}ms, plain ${row.plainStallMs}ms`);
        rows.push(row);
      }
    } finally {
      await knex.destroy();
      await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
      await admin.destroy();
    }
  }
  return rows;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Formats the rows as a text table. */
export function formatOperationBench(rows: readonly OperationBenchRow[]): string {
  const header = ['operation', 'rows', 'safe stall ms', 'plain stall ms', 'plain/safe', 'safe run ms', 'plain run ms'];
  const body = rows.map((r) => [r.operation, r.rows.toLocaleString('en'), r.safeStallMs, r.plainStallMs, `${r.ratio}x`, r.safeDurationMs, r.plainDurationMs].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function sizesFromArgv(argv: readonly string[]): number[] | undefined {
  const index = argv.indexOf('--sizes');
  const value = index >= 0 ? argv[index + 1] : argv.find((a) => a.startsWith('--sizes='))?.slice('--sizes='.length);
  if (!value) return undefined;
  const sizes = value.split(',').map((s) => Number(s.replace(/_/g, '')));
  if (sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`--sizes must be comma-separated row counts; got ${value}`);
  return sizes;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchOperations({ sizes: sizesFromArgv(process.argv), log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${formatOperationBench(rows)}\n`);
}
