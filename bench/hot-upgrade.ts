/**
 * Overhead of withHotUpgrade, measured in one run against the same server, as ratios:
 * - per connection: a query on a fresh connection (connect + the one type lookup + the query);
 * - per query on a pooled connection whose lookup is fresh (the normal case: no extra round trip),
 *   for SELECT 1 (the pool hook alone) and for a read of hstore and citext[] (hook + parsing into objects);
 * - per query with maxStaleness 0 (worst case: a lookup before every query).
 * Baseline and feature runs are interleaved in rounds so that drift hits both alike.
 * Run: node --import tsx bench/hot-upgrade.ts [queries] — or call benchHotUpgrade() from bench/index.ts.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { withHotUpgrade } from '../src/hot-upgrade/with-hot-upgrade.js';

/** One measurement: the median time per operation without and with the feature. */
export interface HotUpgradeBenchRow {
  readonly name: string;
  /** Median microseconds per operation with plain knex. */
  readonly baselineUs: number;
  /** Median microseconds per operation with withHotUpgrade (types hstore and citext). */
  readonly withFeatureUs: number;
  /** withFeatureUs / baselineUs. */
  readonly ratio: number;
}

/** Options of {@link benchHotUpgrade}. */
export interface HotUpgradeBenchOptions {
  /** Server URL (a scratch database is created on it and dropped). @default ZD_BENCH_PG_URL, else the local PostgreSQL */
  readonly serverUrl?: string;
  /** Queries per round for the per-query rows. @default 300 */
  readonly queries?: number;
  /** Fresh connections per round for the per-connection row. @default 40 */
  readonly connections?: number;
  /** Rounds; each alternates baseline and feature. @default 5 */
  readonly rounds?: number;
}

const READ = 'SELECT attrs, email, emails FROM items';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timePerOperation(count: number, operation: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) await operation();
  return ((performance.now() - started) * 1000) / count;
}

/** Measures the feature's per-connection and per-query overhead; returns one row per measurement. */
export async function benchHotUpgrade(options: HotUpgradeBenchOptions = {}): Promise<HotUpgradeBenchRow[]> {
  const serverUrl = options.serverUrl ?? process.env.ZD_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const queries = options.queries ?? 300;
  const connections = options.connections ?? 40;
  const rounds = options.rounds ?? 5;
  const database = `zd_bench_hot_${randomBytes(4).toString('hex')}`;
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;

  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw('CREATE DATABASE ??', [database]);
  const instances: Knex[] = [];
  try {
    const setup = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 1 } });
    instances.push(setup);
    await setup.raw('CREATE EXTENSION hstore');
    await setup.raw('CREATE EXTENSION citext');
    await setup.raw(
      "CREATE TABLE items AS SELECT 'a=>1, b=>NULL'::hstore AS attrs, 'Mixed'::citext AS email, ARRAY['x', 'y']::citext[] AS emails",
    );

    const base = (): Knex.Config => ({
      client: 'pg',
      connection: url.toString(),
      // One connection, so every query of a run uses the same pooled connection.
      pool: { min: 0, max: 1 },
      // Skips knex's one-off `select version()`, which would otherwise land in the first sample only.
      version: '15',
    });
    const make = (config: Knex.Config): Knex => {
      const instance = knexFactory(config);
      instances.push(instance);
      return instance;
    };
    const types = ['hstore', 'citext'];
    const pooledPlain = make(base());
    const pooledFeature = make(withHotUpgrade(base(), { types }));
    const pooledWorst = make(withHotUpgrade(base(), { types, maxStaleness: 0 }));
    for (const instance of [pooledPlain, pooledFeature, pooledWorst]) for (let i = 0; i < 20; i++) await instance.raw(READ); // warm-up

    // A new connection as knex's pool makes it: connect, then the config's pool.afterCreate (the type lookup), then a query.
    const prepare = withHotUpgrade(base(), { types }).pool!.afterCreate as (c: pg.Client, done: (e: Error | null) => void) => void;
    const freshConnection = async (feature: boolean): Promise<void> => {
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        if (feature) await new Promise<void>((resolve, reject) => prepare(client, (error) => (error ? reject(error) : resolve())));
        await client.query(READ);
      } finally {
        await client.end();
      }
    };

    type Samples = [plain: number[], feature: number[]];
    const samples: Record<'trivial' | 'query' | 'worst' | 'connection', Samples> = {
      trivial: [[], []],
      query: [[], []],
      worst: [[], []],
      connection: [[], []],
    };
    for (let round = 0; round < rounds; round++) {
      samples.trivial[0].push(await timePerOperation(queries, () => pooledPlain.raw('SELECT 1')));
      samples.trivial[1].push(await timePerOperation(queries, () => pooledFeature.raw('SELECT 1')));
      samples.query[0].push(await timePerOperation(queries, () => pooledPlain.raw(READ)));
      samples.query[1].push(await timePerOperation(queries, () => pooledFeature.raw(READ)));
      samples.worst[0].push(await timePerOperation(queries, () => pooledPlain.raw(READ)));
      samples.worst[1].push(await timePerOperation(queries, () => pooledWorst.raw(READ)));
      samples.connection[0].push(await timePerOperation(connections, () => freshConnection(false)));
      samples.connection[1].push(await timePerOperation(connections, () => freshConnection(true)));
    }

    const row = (name: string, [plain, feature]: [number[], number[]]): HotUpgradeBenchRow => {
      const baselineUs = median(plain);
      const withFeatureUs = median(feature);
      return { name, baselineUs: Math.round(baselineUs), withFeatureUs: Math.round(withFeatureUs), ratio: Number((withFeatureUs / baselineUs).toFixed(2)) };
    };
    return [
      row('hot-upgrade: query on a fresh connection (connect + lookup)', samples.connection),
      row('hot-upgrade: SELECT 1 on a pooled connection (the hook alone)', samples.trivial),
      row('hot-upgrade: hstore/citext[] read on a pooled connection (hook + parsing)', samples.query),
      row('hot-upgrade: hstore/citext[] read, maxStaleness 0 (a lookup per query)', samples.worst),
    ];
  } finally {
    for (const instance of instances) await instance.destroy();
    await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [database]);
    await admin.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const queries = process.argv[2] ? Number(process.argv[2]) : undefined;
  const rows = await benchHotUpgrade({ queries });
  console.table(rows.map((r) => ({ measurement: r.name, 'plain µs': r.baselineUs, 'withHotUpgrade µs': r.withFeatureUs, ratio: r.ratio })));
}
