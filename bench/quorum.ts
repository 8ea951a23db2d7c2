/**
 * Quorum benchmark: for N = 2, 10 and 50 real deployer processes per backend, the time from the
 * N-th arrival to the last process exiting (how long the deploy waits on coordination once
 * everyone is there: the claim, the apply, and the waiters noticing the outcome).
 *
 *   node --import tsx bench/quorum.ts [sizes=2,10,50] [backends=postgres,redis,memcached]
 */
import { pathToFileURL } from 'node:url';
import type { QuorumBackendName } from '../src/config.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { startMemcached } from '../test/helpers/memcached.js';
import { createSideEffectTables, appliedCounts, spawnDeployers } from '../test/integration/quorum/support/deployers.js';

/** One measurement: a backend and a number of deployers. */
export interface QuorumBenchRow {
  readonly backend: QuorumBackendName;
  readonly size: number;
  /** From the N-th arrival to the last process exit, in milliseconds. */
  readonly nthArrivalToLastExitMs: number;
  /** From spawning the processes to the N-th arrival (process start-up; not the quorum's cost). */
  readonly startupMs: number;
  /** Whether the plan was applied exactly once and every process exited 0. */
  readonly ok: boolean;
}

/** Options of {@link benchQuorum}. */
export interface QuorumBenchOptions {
  /** @default [2, 10, 50] */
  readonly sizes?: readonly number[];
  /** @default ['postgres', 'redis', 'memcached'] */
  readonly backends?: readonly QuorumBackendName[];
  /** @default 'redis://127.0.0.1:6379' (or ZD_TEST_REDIS_URL) */
  readonly redisUrl?: string;
  /** The waiters' poll interval. @default 100 */
  readonly pollMs?: number;
}

/** Runs the quorum benchmark and returns its rows as data. */
export async function benchQuorum(options: QuorumBenchOptions = {}): Promise<QuorumBenchRow[]> {
  const sizes = options.sizes ?? [2, 10, 50];
  const backends = options.backends ?? ['postgres', 'redis', 'memcached'];
  const redisUrl = options.redisUrl ?? process.env.ZD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const rows: QuorumBenchRow[] = [];
  for (const backend of backends) {
    const memcached = backend === 'memcached' ? await startMemcached() : null;
    try {
      for (const size of sizes) {
        const db = await createTestDatabase('zdqbench');
        try {
          await createSideEffectTables(db.knex);
          const url = backend === 'redis' ? redisUrl : backend === 'memcached' ? memcached!.url : null;
          const spawnedAt = Date.now();
          const deployers = spawnDeployers(size, {
            backend,
            url,
            db: db.url,
            namespace: `bench-${backend}-${size}-${spawnedAt}`,
            size,
            // Start-up of 50 processes on a small machine takes a while; the timeout must not be what is measured.
            timeoutMs: 300_000,
            leaseMs: 5000,
            pollMs: options.pollMs ?? 100,
            mode: 'ok',
          });
          const exits = await Promise.all(deployers.map((d) => d.exit));
          const arrivals = deployers.map((d) => d.lines.find((l) => l.event?.type === 'arrived')?.t ?? Number.NaN);
          const nth = Math.max(...arrivals);
          const last = Math.max(...exits.map((e) => e.at));
          const counts = await appliedCounts(db.knex);
          rows.push({
            backend,
            size,
            nthArrivalToLastExitMs: last - nth,
            startupMs: nth - spawnedAt,
            ok: exits.every((e) => e.code === 0) && counts.sideEffects === 1 && counts.migrations === 1,
          });
        } finally {
          await db.drop();
        }
      }
    } finally {
      await memcached?.stop();
    }
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sizes = process.argv[2] ? process.argv[2].split(',').map(Number) : undefined;
  const backends = process.argv[3] ? (process.argv[3].split(',') as QuorumBackendName[]) : undefined;
  const rows = await benchQuorum({ sizes, backends });
  console.table(
    rows.map((r) => ({
      backend: r.backend,
      N: r.size,
      'N-th arrival → last exit (ms)': r.nthArrivalToLastExitMs,
      'start-up (ms)': r.startupMs,
      'exactly once, all exit 0': r.ok,
    })),
  );
}
