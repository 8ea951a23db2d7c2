import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { freePort } from '../../helpers/memcached.js';
import { appliedCounts, createSideEffectTables, describeDeployer, lineOf, spawnDeployers, uniqueNamespace } from './support/deployers.js';
import { registerQuorumScenarios, TEST_LEASE_MS } from './support/scenarios.js';

registerQuorumScenarios(test, {
  backend: 'postgres',
  setup: () => Promise.resolve({ url: null, teardown: () => Promise.resolve() }),
});

test('postgres: the coordination table records each generation, its applier and its outcome', async (t) => {
  const db = await createTestDatabase('zdq');
  try {
    await createSideEffectTables(db.knex);
    const namespace = uniqueNamespace();
    const config = { backend: 'postgres' as const, db: db.url, namespace, size: 2, timeoutMs: 30_000, leaseMs: TEST_LEASE_MS, pollMs: 100 };
    const failed = spawnDeployers(2, { ...config, mode: 'fail' });
    await Promise.all(failed.map((d) => d.exit));
    const ok = spawnDeployers(2, { ...config, mode: 'ok' });
    t.deepEqual((await Promise.all(ok.map((d) => d.exit))).map((e) => e.code), [0, 0], ok.map(describeDeployer).join('\n'));
    const rows = await db.knex('knex_zd_quorum').where({ namespace }).orderBy('generation').select('generation', 'arrived', 'decision', 'outcome', 'message');
    t.deepEqual(
      rows.map((r) => [r.generation, r.arrived, r.decision, r.outcome]),
      [
        [0, 2, 'applier', 'failed'],
        [1, 2, 'applier', 'applied'],
      ],
    );
    t.regex(rows[0].message, /^migration 001_quorum_fixture\.js failed on w-/);
    t.deepEqual(await appliedCounts(db.knex), { sideEffects: 1, migrations: 1 });
  } finally {
    await db.drop();
  }
});

test('postgres: a database that is down fails every deployer clearly before anything is applied', async (t) => {
  const db = await createTestDatabase('zdq');
  try {
    await createSideEffectTables(db.knex);
    const wrong = new URL(db.url);
    wrong.port = String(await freePort());
    const deployers = spawnDeployers(2, {
      backend: 'postgres', db: wrong.toString(), namespace: uniqueNamespace(), size: 2, timeoutMs: 30_000, leaseMs: TEST_LEASE_MS, mode: 'ok',
    });
    const exits = await Promise.all(deployers.map((d) => d.exit));
    t.deepEqual(exits.map((e) => e.code), [1, 1], deployers.map(describeDeployer).join('\n'));
    for (const deployer of deployers) {
      const message = lineOf(deployer, 'error', (l) => l.error !== undefined).message ?? '';
      t.regex(message, /^Cannot use the PostgreSQL quorum backend \(table knex_zd_quorum of the target database\): .*ECONNREFUSED/);
      t.regex(message, /Nothing was applied\./);
    }
    t.deepEqual(await appliedCounts(db.knex), { sideEffects: 0, migrations: 0 });
  } finally {
    await db.drop();
  }
});
