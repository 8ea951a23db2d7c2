/**
 * verify's costs, measured in one run against the same server, as ratios against plain knex:
 * - recordQueries: the time per query of a knex instance that records, against one that does not
 *   (same server, one connection each), for queries seen before (the common case in a test suite:
 *   one Set lookup) and for queries never seen (a line written each); chunks of 100 queries
 *   interleaved, so that drift and the machine's other load hit both alike;
 * - `knex-zd verify`: 1,000 recorded queries across a 3-migration release (2 pre-deploy, 1
 *   post-deploy), end to end through the CLI, against plain knex applying the same release
 *   (`knex.migrate.latest()` on a copy of the database), and verify with no query (what the
 *   CLI, the shadow database and the migrations in it cost) to tell the per-query part; each
 *   twice, interleaved, the faster run counts.
 * Run: node --import tsx bench/verify.ts [queries] — or call benchVerify() from bench/index.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import { recordQueries } from '../src/verify/record-queries.js';
import { createProject, knexfileSource } from '../test/helpers/project.js';

/** One measurement. */
export interface VerifyBenchRow {
  readonly name: string;
  /** Plain knex: µs per query (recordQueries rows) or ms (verify rows). */
  readonly plain: number;
  /** With the feature, same unit. */
  readonly knexZd: number;
  readonly unit: 'µs' | 'ms';
  /** knexZd / plain. */
  readonly ratio: number;
}

/** Options of {@link benchVerify}. */
export interface VerifyBenchOptions {
  /** Server URL (scratch databases are created on it and dropped). @default ZD_BENCH_PG_URL, else the local PostgreSQL */
  readonly serverUrl?: string;
  /** Distinct queries verified. @default 1000 */
  readonly queries?: number;
  /** Queries per round (per instance) for the recordQueries rows. @default 2000 */
  readonly perRound?: number;
  /** Rounds of the recordQueries rows. @default 5 */
  readonly rounds?: number;
  readonly log?: (line: string) => void;
}

const TABLES = 5;

const BASELINE = {
  'migrations/20250101000000_baseline.js': `
exports.up = async (knex) => {
  for (let i = 0; i < ${TABLES}; i++) {
    await knex.schema.createTable('t' + i, (t) => {
      t.increments('id');
      t.text('name').notNullable();
      t.text('legacy');
      t.integer('n').notNullable().defaultTo(0);
      t.timestamp('created_at').notNullable().defaultTo(knex.fn.now());
    });
  }
};
exports.down = async () => {};
`,
};

/** The release: two pre-deploy migrations (a column, a table) and a post-deploy one (a drop). */
const RELEASE = {
  'migrations/20250201000000_add_email.js': `
exports.up = (knex) => knex.schema.alterTable('t0', (t) => { t.text('email'); });
exports.down = (knex) => knex.schema.alterTable('t0', (t) => { t.dropColumn('email'); });
`,
  'migrations/20250201000001_create_audit.js': `
exports.up = (knex) => knex.schema.createTable('audit', (t) => { t.increments('id'); t.text('note'); });
exports.down = (knex) => knex.schema.dropTable('audit');
`,
  'migrations/20250201000002_drop_legacy.js': `
exports.up = (knex) => knex.schema.alterTable('t1', (t) => { t.dropColumn('legacy'); });
exports.down = (knex) => knex.schema.alterTable('t1', (t) => { t.text('legacy'); });
`,
};

/** The i-th distinct query of the application: reads, writes and updates over the tables. */
function applicationQuery(knex: Knex, i: number): Knex.QueryBuilder {
  const table = `t${i % TABLES}`;
  switch (i % 3) {
    case 0:
      return knex(table).select('id', `name as name_${i}`, ...(i % 2 ? ['legacy'] : [])).where('n', '>', i).limit(10);
    case 1:
      return knex(table).insert({ name: `n${i}`, n: i, ...(i % 2 ? { legacy: 'x' } : {}) }).returning(knex.raw('id as id_' + i));
    default:
      return knex(table).where('id', i).update({ n: i, ...(i % 2 ? { legacy: 'y' } : {}) }).returning(knex.raw('n as n_' + i));
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

function row(name: string, plain: number, knexZd: number, unit: 'µs' | 'ms'): VerifyBenchRow {
  return { name, plain: Math.round(plain * 10) / 10, knexZd: Math.round(knexZd * 10) / 10, unit, ratio: Number((knexZd / plain).toFixed(2)) };
}

/** Measures recordQueries' overhead and verify's time; returns one row per measurement. */
export async function benchVerify(options: VerifyBenchOptions = {}): Promise<VerifyBenchRow[]> {
  const serverUrl = options.serverUrl ?? process.env.ZD_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const queries = options.queries ?? 1_000;
  const perRound = options.perRound ?? 2_000;
  const rounds = options.rounds ?? 5;
  const log = options.log ?? (() => undefined);
  const suffix = randomBytes(4).toString('hex');
  const database = `zd_bench_verify_${suffix}`;
  const copy = `zd_bench_verify_plain_${suffix}`;
  const urlOf = (name: string) => {
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw('CREATE DATABASE ??', [database]);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zd-bench-verify-'));
  const project = await createProject({ 'knexfile.js': knexfileSource(urlOf(database)), ...BASELINE });
  const app = knexFactory({ client: 'pg', connection: urlOf(database), pool: { min: 1, max: 1 } });
  try {
    const baseline = await project.run(['migrate:latest']);
    if (baseline.code !== 0) throw new Error(`the baseline failed: ${baseline.stderr}`);

    // Two instances on the same server, one recording all along; chunks interleaved, so that
    // drift and the other load of the machine hit both alike.
    const recorded = knexFactory({ client: 'pg', connection: urlOf(database), pool: { min: 1, max: 1 } });
    const recorder0 = recordQueries(recorded, path.join(dir, 'recorded.jsonl'), { append: false, maxQueries: 1_000_000 });
    log(`recordQueries: ${rounds} rounds of ${perRound} queries per instance`);
    const chunk = 100;
    const seen = [0, 0];
    const fresh = [0, 0];
    let unique = 0;
    try {
      for (const instance of [app, recorded]) await instance.raw('select 1');
      for (let done = 0; done < rounds * perRound; done += chunk) {
        const order = (done / chunk) % 2 === 0 ? [0, 1] : [1, 0];
        for (const side of order) {
          const knex = side === 0 ? app : recorded;
          seen[side] += await timed(async () => {
            for (let i = 0; i < chunk; i++) await knex('t0').select('id', 'name').where('id', i % 20).limit(i % 20);
          });
          fresh[side] += await timed(async () => {
            for (let i = 0; i < chunk; i++) await knex.raw(`select ?::int as c${unique++}`, [i]);
          });
        }
      }
    } finally {
      recorder0.stop();
      await recorded.destroy();
    }
    const perQuery = (totalMs: number) => (totalMs * 1000) / (rounds * perRound);

    // The old release's test run: each distinct query once, recorded.
    const file = path.join(project.dir, 'old.jsonl');
    const recorder = recordQueries(app, file, { append: false });
    for (let i = 0; i < queries; i++) await applicationQuery(app, i);
    recorder.stop();
    await app.destroy();
    await project.write('none.jsonl', '');
    for (const [name, content] of Object.entries(RELEASE)) await project.write(name, content);
    log(`verify: ${recorder.recorded} recorded queries, 3 pending migrations`);

    // Twice each, interleaved; the faster run counts (the other load of the machine only adds).
    const verify = async (source: string) =>
      timed(async () => {
        const result = await project.run(['verify', '--old-queries', source]);
        if (result.code !== 0) throw new Error(`verify exited ${result.code}: ${result.stderr || result.stdout.slice(-2000)}`);
      });
    const full: number[] = [];
    const empty: number[] = [];
    for (let i = 0; i < 2; i++) {
      full.push(await verify('old.jsonl'));
      empty.push(await verify('none.jsonl'));
    }
    const verifyMs = Math.min(...full);
    const emptyMs = Math.min(...empty);

    // Plain knex applying the same release to a copy of the database.
    await admin.raw('CREATE DATABASE ?? TEMPLATE ??', [copy, database]);
    const plain = knexFactory({ client: 'pg', connection: urlOf(copy), pool: { min: 0, max: 2 } });
    let plainMs: number;
    try {
      plainMs = await timed(() => plain.migrate.latest({ directory: path.join(project.dir, 'migrations') }));
    } finally {
      await plain.destroy();
    }
    return [
      row('recordQueries: a query seen before (per query)', perQuery(seen[0]), perQuery(seen[1]), 'µs'),
      row('recordQueries: a new query, one line written (per query)', perQuery(fresh[0]), perQuery(fresh[1]), 'µs'),
      row(`verify: ${queries.toLocaleString('en-US')} recorded queries × 4 schemas (3-migration release) vs plain knex migrate:latest`, plainMs, verifyMs, 'ms'),
      row('verify: the same with no query (CLI, shadow database, migrations in it) vs plain knex migrate:latest', plainMs, emptyMs, 'ms'),
      row(`verify: per query and schema (PREPARE, NOT NULL check) vs a plain knex query`, perQuery(seen[0]) / 1000, (verifyMs - emptyMs) / (queries * 4), 'ms'),
    ];
  } finally {
    await app.destroy().catch(() => undefined);
    await project.remove();
    await rm(dir, { recursive: true, force: true });
    for (const name of [database, copy]) await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
    await admin.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const queries = process.argv[2] ? Number(process.argv[2]) : undefined;
  const rows = await benchVerify({ queries, log: (line) => console.error(line) });
  console.table(rows.map((r) => ({ measurement: r.name, [`plain knex`]: `${r.plain} ${r.unit}`, 'knex-zd': `${r.knexZd} ${r.unit}`, ratio: r.ratio })));
}
