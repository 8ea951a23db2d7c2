import test from 'ava';
import { emptyStats, playDeploy, record, totalFailed, weightedPicker } from '../../../examples/demo/player.js';

test('record counts queries, failures by message, and the longest stall', (t) => {
  const stats = emptyStats();
  record(stats, 5, undefined);
  record(stats, 40, new Error('select * from "orders" - relation "orders" does not exist'));
  record(stats, 12, new Error('select * from "orders" - relation "orders" does not exist'));
  t.is(stats.queries, 3);
  t.is(stats.failed, 2);
  t.is(stats.longestStallMs, 40);
  t.deepEqual([...stats.errors], [['relation "orders" does not exist', 2]]);
});

test('weightedPicker follows the weights', (t) => {
  const values = [0.0, 0.49, 0.5, 0.99];
  let i = 0;
  const next = weightedPicker(
    [
      { weight: 1, value: 'a' },
      { weight: 1, value: 'b' },
    ],
    () => values[i++],
  );
  t.deepEqual([next(), next(), next(), next()], ['a', 'a', 'b', 'b']);
  t.throws(() => weightedPicker([]), { message: /at least one item/ });
});

test('each phase runs only its sides, runs its work while they serve, and counts what failed', async (t) => {
  const calls = { old: 0, new: 0 };
  let broken = false;
  const results = await playDeploy(
    [
      {
        name: 'pre-deploy',
        sides: ['old'],
        minDurationMs: 30,
        work: async () => {
          const before = calls.old;
          await new Promise((resolve) => setTimeout(resolve, 20));
          t.true(calls.old > before, 'old code kept serving while the work ran');
        },
      },
      { name: 'roll-out', sides: ['old', 'new'], minDurationMs: 30 },
      {
        name: 'post-deploy',
        sides: ['new'],
        minDurationMs: 30,
        work: () => {
          broken = true;
          return Promise.reject(new Error('migration failed'));
        },
      },
    ],
    {
      requests: {
        old: () => () => {
          calls.old += 1;
          return Promise.resolve();
        },
        new: () => () => {
          calls.new += 1;
          return broken ? Promise.reject(new Error('boom')) : Promise.resolve();
        },
      },
      workersPerSide: 2,
      pauseMs: 1,
    },
  );
  t.deepEqual(results.map((r) => r.name), ['pre-deploy', 'roll-out', 'post-deploy']);
  t.deepEqual(Object.keys(results[0].sides), ['old']);
  t.deepEqual(Object.keys(results[1].sides).sort(), ['new', 'old']);
  t.deepEqual(Object.keys(results[2].sides), ['new']);
  t.is(results[0].sides.old!.failed, 0);
  t.is(results[1].workMs, null);
  t.is(results[2].workError?.message, 'migration failed');
  t.true(results[2].sides.new!.failed > 0);
  t.is(totalFailed(results), results[2].sides.new!.failed);
  const counted = results.reduce((n, r) => n + (r.sides.old?.queries ?? 0), 0);
  t.is(counted, calls.old, 'every request is counted exactly once');
});

test('an aborted deploy stops between requests and skips the remaining phases', async (t) => {
  const abort = new AbortController();
  const results = await playDeploy(
    [
      { name: 'one', sides: ['old'], minDurationMs: 10_000, work: () => Promise.resolve(abort.abort()) },
      { name: 'two', sides: ['new'], minDurationMs: 10_000 },
    ],
    { requests: { old: () => () => Promise.resolve(), new: () => () => Promise.resolve() }, signal: abort.signal },
  );
  t.deepEqual(results.map((r) => r.name), ['one']);
});
