import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { freePort, startMemcached } from '../../helpers/memcached.js';
import { appliedCounts, createSideEffectTables, describeDeployer, lineOf, spawnDeployers, uniqueNamespace } from './support/deployers.js';
import { registerQuorumScenarios, TEST_LEASE_MS } from './support/scenarios.js';

// Every scenario gets a memcached of its own: starting one takes milliseconds, and the restart
// scenario must not disturb the others.
registerQuorumScenarios(test, {
  backend: 'memcached',
  setup: async () => {
    const memcached = await startMemcached();
    return { url: memcached.url, teardown: () => memcached.stop() };
  },
  // Memcached expires keys on a clock that ticks once a second, and the lease key is given a second more.
  leaseSlackMs: 2000,
});

test('memcached: a backend that is down fails every deployer clearly before anything is applied', async (t) => {
  const db = await createTestDatabase('zdq');
  try {
    await createSideEffectTables(db.knex);
    const url = `127.0.0.1:${await freePort()}`;
    const deployers = spawnDeployers(2, {
      backend: 'memcached', url, db: db.url, namespace: uniqueNamespace(), size: 2, timeoutMs: 30_000, leaseMs: TEST_LEASE_MS, mode: 'ok',
    });
    const exits = await Promise.all(deployers.map((d) => d.exit));
    t.deepEqual(exits.map((e) => e.code), [1, 1], deployers.map(describeDeployer).join('\n'));
    for (const deployer of deployers) {
      const message = lineOf(deployer, 'error', (l) => l.error !== undefined).message ?? '';
      t.regex(message, new RegExp(`^Cannot reach the Memcached quorum backend at ${url.replace(/\./g, '\\.')}`));
      t.regex(message, /Nothing was applied\./);
    }
    t.deepEqual(await appliedCounts(db.knex), { sideEffects: 0, migrations: 0 });
  } finally {
    await db.drop();
  }
});

test('memcached: a Memcached restart in the middle fails the run clearly or completes it, never applies twice', async (t) => {
  const memcached = await startMemcached();
  const db = await createTestDatabase('zdq');
  try {
    await createSideEffectTables(db.knex);
    const deployers = spawnDeployers(3, {
      backend: 'memcached', url: memcached.url, db: db.url, namespace: uniqueNamespace(), size: 3, timeoutMs: 30_000,
      leaseMs: TEST_LEASE_MS, pollMs: 100, mode: 'ok', applyMs: 2500,
    });
    await Promise.race(deployers.map((d) => d.waitFor((l) => l.event?.type === 'applying' && l.event.self === true)));
    await memcached.restart();
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
    await memcached.stop();
    await db.drop();
  }
});

