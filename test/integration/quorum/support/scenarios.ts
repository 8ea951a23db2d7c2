import type { TestFn } from 'ava';
import type { QuorumBackendName } from '../../../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../../../helpers/db.js';
import type { WorkerConfig } from '../../../fixtures/quorum/worker.js';
import {
  appliedCounts,
  createSideEffectTables,
  describeDeployer,
  lineOf,
  spawnDeployers,
  uniqueNamespace,
  type Deployer,
} from './deployers.js';

/** How a scenario reaches the backend under test. */
export interface BackendUnderTest {
  readonly backend: QuorumBackendName;
  /** A live backend URL for one scenario (null for postgres); may start a server of its own. */
  readonly setup: () => Promise<{ url: string | null; teardown(): Promise<void> }>;
  /** Extra time a backend may take to notice an expired lease (memcached's clock ticks in seconds). */
  readonly leaseSlackMs?: number;
}

/** The lease used in the tests: short, so that a killed applier is noticed quickly. */
export const TEST_LEASE_MS = 2000;

interface Scenario {
  db: TestDatabase;
  url: string | null;
  base: Omit<WorkerConfig, 'id' | 'size' | 'mode'>;
}

async function withScenario(target: BackendUnderTest, fn: (scenario: Scenario) => Promise<void>): Promise<void> {
  const db = await createTestDatabase('zdq');
  const backend = await target.setup();
  try {
    await createSideEffectTables(db.knex);
    await fn({
      db,
      url: backend.url,
      base: {
        backend: target.backend,
        url: backend.url,
        db: db.url,
        namespace: uniqueNamespace(),
        timeoutMs: 30_000,
        leaseMs: TEST_LEASE_MS,
        pollMs: 100,
      },
    });
  } finally {
    await backend.teardown();
    await db.drop();
  }
}

function exitCodes(exits: { code: number | null }[]): (number | null)[] {
  return exits.map((exit) => exit.code);
}

function dump(deployers: Deployer[]): string {
  return deployers.map(describeDeployer).join('\n');
}

/** Registers the race scenarios of the issue for one backend. */
export function registerQuorumScenarios(test: TestFn, target: BackendUnderTest): void {
  const name = target.backend;

  for (const size of [2, 5, 10]) {
    test(`${name}: ${size} deployers started together apply the plan exactly once and all exit 0`, async (t) => {
      await withScenario(target, async ({ db, base }) => {
        const deployers = spawnDeployers(size, { ...base, size, mode: 'ok' });
        const exits = await Promise.all(deployers.map((d) => d.exit));
        t.deepEqual(exitCodes(exits), Array(size).fill(0), dump(deployers));
        t.deepEqual(await appliedCounts(db.knex), { sideEffects: 1, migrations: 1 });
        const results = deployers.map((d) => lineOf(d, 'result', (line) => line.result !== undefined));
        t.is(results.filter((r) => r.result === 'applier').length, 1);
        const applier = results.find((r) => r.result === 'applier')?.applier;
        t.true(results.every((r) => r.applier === applier), 'every waiter names the applier');
        for (const deployer of deployers) {
          t.truthy(deployer.lines.find((l) => l.event?.type === 'arrived'), 'each deployer reports its arrival');
        }
      });
    });
  }

  test(`${name}: when the applier's migration fails, every deployer exits non-zero within seconds`, async (t) => {
    await withScenario(target, async ({ db, base }) => {
      const deployers = spawnDeployers(3, { ...base, size: 3, mode: 'fail' });
      const exits = await Promise.all(deployers.map((d) => d.exit));
      const codes = exitCodes(exits);
      t.is(codes.filter((c) => c === 2).length, 1, `the applier exits with its own error\n${dump(deployers)}`);
      t.is(codes.filter((c) => c === 1).length, 2, 'the waiters exit with a QuorumError');
      const applierExit = exits[codes.indexOf(2)].at;
      t.true(Math.max(...exits.map((e) => e.at)) - applierExit < 5000, 'waiters learn of the failure within seconds');
      for (const deployer of deployers.filter((_, i) => codes[i] === 1)) {
        const error = lineOf(deployer, 'error', (l) => l.error !== undefined);
        t.is(error.error, 'ZD_QUORUM');
        t.regex(error.message ?? '', /^The remote applier w-\w+ failed, so the plan was not applied\./);
        t.regex(error.message ?? '', /Its error: migration 001_quorum_fixture\.js failed on w-\w+/);
        t.regex(error.message ?? '', /Look at the deploy log of w-\w+/);
      }
      t.deepEqual(await appliedCounts(db.knex), { sideEffects: 0, migrations: 0 });
    });
  });

  test(`${name}: a SIGKILLed applier is noticed within the lease time, and a rerun completes`, async (t) => {
    await withScenario(target, async ({ db, base }) => {
      const deployers = spawnDeployers(3, { ...base, size: 3, mode: 'hang' });
      const applier = await Promise.race(deployers.map((d) => d.waitFor((l) => l.hanging === true).then(() => d)));
      const killedAt = Date.now();
      applier.child.kill('SIGKILL');
      const waiters = deployers.filter((d) => d !== applier);
      const exits = await Promise.all(waiters.map((d) => d.exit));
      t.deepEqual(exitCodes(exits), [1, 1], dump(deployers));
      const bound = TEST_LEASE_MS + (target.leaseSlackMs ?? 0) + 2500;
      for (const exit of exits) t.true(exit.at - killedAt < bound, `waiter exited ${exit.at - killedAt}ms after the kill`);
      for (const waiter of waiters) {
        t.regex(lineOf(waiter, 'error', (l) => l.error !== undefined).message ?? '', /stopped renewing its lease \(2000ms\) before it reported an outcome/);
      }
      await applier.exit;
      t.deepEqual(await appliedCounts(db.knex), { sideEffects: 0, migrations: 0 }, 'the killed transaction rolled back');

      const rerun = spawnDeployers(3, { ...base, size: 3, mode: 'ok' });
      t.deepEqual(exitCodes(await Promise.all(rerun.map((d) => d.exit))), [0, 0, 0], dump(rerun));
      t.deepEqual(await appliedCounts(db.knex), { sideEffects: 1, migrations: 1 });
    });
  });

  test(`${name}: fewer than N arrive: all time out with a clear error, and a rerun with N succeeds`, async (t) => {
    await withScenario(target, async ({ db, base }) => {
      // Generous enough that both usually arrive before the first gives up, even on a loaded machine;
      // when one is late it simply meets the timeout in the next generation (hence `[12] of 3`).
      const early = spawnDeployers(2, { ...base, size: 3, mode: 'ok', timeoutMs: 5000 });
      const exits = await Promise.all(early.map((d) => d.exit));
      t.deepEqual(exitCodes(exits), [1, 1], dump(early));
      for (const deployer of early) {
        t.regex(
          lineOf(deployer, 'error', (l) => l.error !== undefined).message ?? '',
          /^Quorum timeout: only [12] of 3 deployers arrived within 5000ms, so nothing was applied\.\nEvery deployer of this deploy stops; the quorum starts over with a clean count\./,
        );
      }
      t.deepEqual(await appliedCounts(db.knex), { sideEffects: 0, migrations: 0 });

      const rerun = spawnDeployers(3, { ...base, size: 3, mode: 'ok' });
      t.deepEqual(exitCodes(await Promise.all(rerun.map((d) => d.exit))), [0, 0, 0], dump(rerun));
      t.deepEqual(await appliedCounts(db.knex), { sideEffects: 1, migrations: 1 });
      const arrivals = rerun.map((d) => lineOf(d, 'arrived', (l) => l.event?.type === 'arrived').event!);
      t.deepEqual(arrivals.map((e) => e.arrival).sort(), [1, 2, 3], 'the rerun counts from 1 again');
    });
  });
}
