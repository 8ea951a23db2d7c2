/**
 * Benchmark: the longest stall of a writer queued behind an `ALTER TABLE … ADD COLUMN` that
 * waits for a long transaction (the blocker), with knex-zd's default lock policy against plain
 * knex, on the same table in the same run. Plain knex's ALTER waits for the blocker with every
 * later query on the table queued behind it; knex-zd's gives up after a short lock_timeout,
 * lets the queue drain, and tries again.
 *
 *   node --import tsx bench/lock-wait.ts [--blockers 1000,10000]
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { parseSettings } from '../src/config.js';
import { wrapMigration } from '../src/runner/wrap-migration.js';

/** One line of the result: a blocker duration, knex-zd's default policy vs plain knex. */
export interface LockWaitBenchRow {
  /** How long the blocking transaction holds its lock, in ms. */
  readonly blockerMs: number;
  /** Longest single write the writer saw while knex-zd's ALTER waited, in ms. */
  readonly safeStallMs: number;
  /** The same with plain knex's ALTER. */
  readonly plainStallMs: number;
  /** plain / safe. */
  readonly ratio: number;
  /** When knex-zd's ALTER was done, from its start, in ms. */
  readonly safeDoneMs: number;
  readonly plainDoneMs: number;
  /** Writes the writer made during each run. */
  readonly safeWrites: number;
  readonly plainWrites: number;
}

/** Options of {@link benchLockWait}. */
export interface LockWaitBenchOptions {
  /** Blocker durations in ms. @default [1_000, 10_000] */
  readonly blockers?: readonly number[];
  /** PostgreSQL server URL (a database is created and dropped on it). @default ZD_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres */
  readonly serverUrl?: string;
  readonly log?: (line: string) => void;
}

async function connect(url: string, name: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: name });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function startWriter(url: string): Promise<{ stop(): Promise<{ stall: number; writes: number }> }> {
  const client = await connect(url, 'bench writer');
  let running = true;
  let longest = 0;
  let writes = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      await client.query('UPDATE items SET n = n + 1 WHERE id = $1', [1 + (writes % 1000)]);
      longest = Math.max(longest, performance.now() - started);
      writes++;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.end();
      return { stall: longest, writes };
    },
  };
}

/** A transaction that reads the table and stays open for `ms` (a long report, a forgotten psql session). */
async function startBlocker(url: string, ms: number): Promise<{ ended: Promise<void> }> {
  const client = await connect(url, 'bench blocker');
  await client.query('BEGIN');
  await client.query('SELECT count(*) FROM items');
  const ended = (async () => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    await client.query('COMMIT');
    await client.end();
  })();
  return { ended };
}

async function measure(url: string, blockerMs: number, alter: () => Promise<unknown>): Promise<{ stall: number; writes: number; done: number }> {
  const writer = await startWriter(url);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const blocker = await startBlocker(url, blockerMs);
  const started = performance.now();
  let done: number;
  try {
    await alter();
  } finally {
    done = performance.now() - started;
    await blocker.ended;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const { stall, writes } = await writer.stop();
  return { stall, writes, done };
}

/** Runs the benchmark and returns its rows. */
export async function benchLockWait(options: LockWaitBenchOptions = {}): Promise<LockWaitBenchRow[]> {
  const blockers = options.blockers ?? [1_000, 10_000];
  const serverUrl = options.serverUrl ?? process.env.ZD_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const log = options.log ?? (() => undefined);
  const name = `zd_bench_lock_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw('CREATE DATABASE ??', [name]);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const knex = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 4 } });
  const rows: LockWaitBenchRow[] = [];
  try {
    await knex.raw('CREATE TABLE items (id serial PRIMARY KEY, n int)');
    await knex.raw('INSERT INTO items (n) SELECT g FROM generate_series(1, 10000) g');
    for (const blockerMs of blockers) {
      // Both run as a migration does by default: inside knex's transaction.
      const safeColumn = `zd_${blockerMs}`;
      const migration = wrapMigration(
        { up: (k: Knex) => k.schema.alterTable('items', (t) => t.integer(safeColumn)) },
        { name: 'bench_add_column', direction: 'up', transaction: true, settings: parseSettings({}) },
      );
      const safe = await measure(url.toString(), blockerMs, () => knex.transaction(async (trx) => migration.up(trx)));
      const plain = await measure(url.toString(), blockerMs, () =>
        knex.transaction(async (trx) => trx.schema.alterTable('items', (t) => t.integer(`plain_${blockerMs}`))),
      );
      const row: LockWaitBenchRow = {
        blockerMs,
        safeStallMs: round(safe.stall),
        plainStallMs: round(plain.stall),
        ratio: round(plain.stall / Math.max(safe.stall, 0.001)),
        safeDoneMs: round(safe.done),
        plainDoneMs: round(plain.done),
        safeWrites: safe.writes,
        plainWrites: plain.writes,
      };
      log(`blocker ${blockerMs}ms: knex-zd stall ${row.safeStallMs}ms (done after ${row.safeDoneMs}ms), plain ${row.plainStallMs}ms (done after ${row.plainDoneMs}ms)`);
      rows.push(row);
    }
  } finally {
    await knex.destroy();
    await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
    await admin.destroy();
  }
  return rows;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Formats the rows as a text table. */
export function formatLockWaitBench(rows: readonly LockWaitBenchRow[]): string {
  const header = ['blocker ms', 'knex-zd stall ms', 'plain stall ms', 'plain/knex-zd', 'knex-zd done ms', 'plain done ms'];
  const body = rows.map((r) => [r.blockerMs, r.safeStallMs, r.plainStallMs, `${r.ratio}x`, r.safeDoneMs, r.plainDoneMs].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function blockersFromArgv(argv: readonly string[]): number[] | undefined {
  const index = argv.indexOf('--blockers');
  const value = index >= 0 ? argv[index + 1] : argv.find((a) => a.startsWith('--blockers='))?.slice('--blockers='.length);
  if (!value) return undefined;
  const blockers = value.split(',').map((s) => Number(s.replace(/_/g, '')));
  if (blockers.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`--blockers must be comma-separated durations in ms; got ${value}`);
  return blockers;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchLockWait({ blockers: blockersFromArgv(process.argv), log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${formatLockWaitBench(rows)}\n`);
}
