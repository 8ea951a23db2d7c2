import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { freePort } from '../../helpers/memcached.js';
import { appliedCounts, createSideEffectTables, describeDeployer, lineOf, spawnDeployers, uniqueNamespace } from './support/deployers.js';
import { startRedisServer } from './support/redis-server.js';
import { registerQuorumScenarios, TEST_LEASE_MS } from './support/scenarios.js';

const REDIS_URL = process.env.ZD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

registerQuorumScenarios(test, {
  backend: 'redis',
  setup: () => Promise.resolve({ url: REDIS_URL, teardown: () => Promise.resolve() }),
});

test('redis: a backend that is down fails every deployer clearly before anything is applied', async (t) => {
  const db = await createTestDatabase('zdq');
  try {
    await createSideEffectTables(db.knex);
    const url = `redis://127.0.0.1:${await freePort()}`;
    const deployers = spawnDeployers(2, {
      backend: 'redis', url, db: db.url, namespace: uniqueNamespace(), size: 2, timeoutMs: 30_000, leaseMs: TEST_LEASE_MS, mode: 'ok',
    });
    const exits = await Promise.all(deployers.map((d) => d.exit));
    t.deepEqual(exits.map((e) => e.code), [1, 1], deployers.map(describeDeployer).join('\n'));
    for (const deployer of deployers) {
      const message = lineOf(deployer, 'error', (l) => l.error !== undefined).message ?? '';
      t.regex(message, new RegExp(`^Cannot reach the Redis quorum backend at redis://127\\.0\\.0\\.1:\\d+`));
      t.regex(message, /Nothing was applied\./);
    }
    t.deepEqual(await appliedCounts(db.knex), { sideEffects: 0, migrations: 0 });
  } finally {
    await db.drop();
  }
});

test('redis: a Redis restart in the middle fails the run clearly or completes it, never applies twice', async (t) => {
  const redis = await startRedisServer();
  const db = await createTestDatabase('zdq');
  try {
    await createSideEffectTables(db.knex);
    const deployers = spawnDeployers(3, {
      backend: 'redis', url: redis.url, db: db.url, namespace: uniqueNamespace(), size: 3, timeoutMs: 30_000,
      leaseMs: TEST_LEASE_MS, pollMs: 100, mode: 'ok', applyMs: 2500,
    });
    await Promise.race(deployers.map((d) => d.waitFor((l) => l.event?.type === 'applying' && l.event.self === true)));
    await redis.restart();
    const exits = await Promise.all(deployers.map((d) => d.exit));
    const dump = deployers.map(describeDeployer).join('\n');
    t.true(exits.every((e) => e.code === 0 || e.code === 1), dump);
    for (const [i, deployer] of deployers.entries()) {
      if (exits[i].code === 1) t.is(deployer.lines.find((l) => l.error)?.error, 'ZD_QUORUM', dump);
    }
    const counts = await appliedCounts(db.knex);
    t.true(counts.sideEffects <= 1 && counts.migrations <= 1, `applied ${counts.sideEffects} times`);
    t.log(`exit codes after the restart: ${exits.map((e) => e.code).join(', ')}; applied ${counts.sideEffects} time(s)`);
  } finally {
    await redis.stop();
    await db.drop();
  }
});
