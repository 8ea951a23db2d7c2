import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, QuorumError } from '../../../src/errors.js';
import type { QuorumEvent } from '../../../src/quorum/events.js';
import { runWithQuorum, type QuorumRunOptions } from '../../../src/quorum/run-with-quorum.js';
import { MemoryQuorumBackend } from './memory-backend.js';

// In-process deployers over a memory backend, with real (short) timers: the protocol's flows,
// fast. The same flows run against the real backends and processes in test/integration/quorum.

function options(backend: MemoryQuorumBackend, id: string, extra: Partial<QuorumRunOptions<number>> = {}): QuorumRunOptions<number> {
  return { backend, namespace: 'ns', size: 3, timeoutMs: 2000, leaseMs: 120, pollMs: 5, deployerId: id, ...extra };
}

test('N deployers: exactly one applies, the others resolve as waiters naming it', async (t) => {
  const backend = new MemoryQuorumBackend();
  let applied = 0;
  const results = await Promise.all(
    ['a', 'b', 'c'].map((id) =>
      runWithQuorum(options(backend, id, { summarize: (n) => `${n} migrations` }), async () => {
        applied++;
        await sleep(30);
        return 2;
      }),
    ),
  );
  t.is(applied, 1);
  const applier = results.find((r) => r.role === 'applier');
  t.deepEqual(applier, { role: 'applier', value: 2 });
  t.deepEqual(
    results.filter((r) => r.role === 'waiter'),
    [
      { role: 'waiter', applier: 'c', summary: '2 migrations' },
      { role: 'waiter', applier: 'c', summary: '2 migrations' },
    ],
  );
});

test('progress: arrival, k of N, who applies, who applied', async (t) => {
  const backend = new MemoryQuorumBackend();
  const events: QuorumEvent[] = [];
  const first = runWithQuorum(options(backend, 'a', { size: 2, onProgress: (e) => events.push(e) }), () => Promise.resolve(1));
  await sleep(20);
  await runWithQuorum(options(backend, 'b', { size: 2 }), async () => {
    await sleep(30);
    return 1;
  });
  await first;
  t.deepEqual(
    events.map((e) => e.type),
    ['arrived', 'waiting', 'waiting', 'applying', 'applied'],
  );
  t.like(events[0], { type: 'arrived', deployer: 'a', arrival: 1, size: 2, generation: 0 });
  t.like(events[2], { type: 'waiting', arrived: 2, size: 2 });
  t.like(events[4], { type: 'applied', applier: 'b', self: false });
});

test('N = 1 and an empty plan skip coordination', async (t) => {
  const backend = new MemoryQuorumBackend();
  const events: QuorumEvent[] = [];
  t.deepEqual(await runWithQuorum(options(backend, 'a', { size: 1, onProgress: (e) => events.push(e) }), () => Promise.resolve(7)), {
    role: 'solo',
    value: 7,
  });
  const empty = { plan: [], stage: 'pre-deploy', database: 'db' };
  t.deepEqual(await runWithQuorum(options(backend, 'a', { namespace: empty, onProgress: (e) => events.push(e) }), () => Promise.resolve(8)), {
    role: 'solo',
    value: 8,
  });
  t.deepEqual(events, [
    { type: 'skipped', reason: 'size-1' },
    { type: 'skipped', reason: 'empty-plan' },
  ]);
  t.is(backend.generations.size, 0, 'the backend was not touched');
});

test('invalid sizes and durations are refused before anything runs', async (t) => {
  const backend = new MemoryQuorumBackend();
  let applied = false;
  const apply = () => {
    applied = true;
    return Promise.resolve(1);
  };
  for (const size of [0, -1, 2.5, Number.NaN, '3' as unknown as number]) {
    const error = await t.throwsAsync(runWithQuorum(options(backend, 'a', { size }), apply), { instanceOf: ConfigError });
    t.regex(error.message, /^quorum size \(--quorum\) must be a whole number of at least 1; got /);
  }
  await t.throwsAsync(runWithQuorum(options(backend, 'a', { timeoutMs: 0 }), apply), {
    instanceOf: ConfigError,
    message: /^quorum timeout must be a positive number of milliseconds; got 0\./,
  });
  t.false(applied);
});

test('the applier fails: it rethrows its own error, the waiters reject saying the remote applier failed', async (t) => {
  const backend = new MemoryQuorumBackend();
  const boom = new Error('relation "users" does not exist');
  const runs = ['a', 'b', 'c'].map((id) =>
    runWithQuorum(options(backend, id), () => Promise.reject(boom)),
  );
  const settled = await Promise.allSettled(runs);
  const reasons = settled.map((s) => (s.status === 'rejected' ? (s.reason as Error) : null));
  t.is(reasons[2], boom);
  for (const reason of reasons.slice(0, 2)) {
    t.true(reason instanceof QuorumError);
    t.is(
      reason!.message,
      'The remote applier c failed, so the plan was not applied.\n' +
        '  Its error: relation "users" does not exist\n' +
        'Look at the deploy log of c (host:pid:id) for the full error and stack trace. ' +
        'Fix the cause, then rerun all 3 deploys: the quorum starts over with a clean count.',
    );
    t.like((reason as QuorumError).details, { applier: 'c', generation: 0, size: 3, backend: 'memory' });
  }
});

test('fewer than N arrive: all reject with the timeout, and a rerun starts from a clean count', async (t) => {
  const backend = new MemoryQuorumBackend();
  let applied = 0;
  const apply = () => Promise.resolve(++applied);
  const early = await Promise.allSettled(['a', 'b'].map((id) => runWithQuorum(options(backend, id, { timeoutMs: 60 }), apply)));
  for (const result of early) {
    t.is(result.status, 'rejected');
    const reason = (result as PromiseRejectedResult).reason as QuorumError;
    t.true(reason instanceof QuorumError);
    t.regex(reason.message, /^Quorum timeout: only 2 of 3 deployers arrived within 60ms, so nothing was applied\./);
    t.regex(reason.message, /knex-zd migrate:latest --quorum 3 --quorum-timeout 1$/);
  }
  t.is(applied, 0);
  const rerun = await Promise.all(['a', 'b', 'c'].map((id) => runWithQuorum(options(backend, id), apply)));
  t.is(applied, 1);
  t.is(rerun.filter((r) => r.role === 'applier').length, 1);
  t.is(backend.generations.get('ns')!.length, 2, 'the rerun ran in a new generation');
});

test('an applier that stops renewing its lease is declared lost within the lease time; a rerun completes', async (t) => {
  const backend = new MemoryQuorumBackend();
  let release!: () => void;
  const stuck = new Promise<void>((resolve) => (release = resolve));
  const runs = ['a', 'b', 'c'].map((id) =>
    runWithQuorum(options(backend, id), async () => {
      backend.frozen = true;
      await stuck;
      return 1;
    }),
  );
  const started = Date.now();
  const waiters = await Promise.allSettled(runs.slice(0, 2));
  t.true(Date.now() - started < 120 * 4, 'noticed within a few lease times');
  for (const result of waiters) {
    t.regex(
      ((result as PromiseRejectedResult).reason as Error).message,
      /^The applier c stopped renewing its lease \(120ms\) before it reported an outcome/,
    );
  }
  backend.frozen = false;
  release();
  // The applier's own result stands, and it learns that the others gave up on it.
  t.like(await runs[2], { role: 'applier', value: 1 });
  const rerun = await Promise.all(['a', 'b', 'c'].map((id) => runWithQuorum(options(backend, id), () => Promise.resolve(2))));
  t.is(rerun.filter((r) => r.role === 'waiter').length, 2);
});

test('the applier is told when the waiters gave up on it', async (t) => {
  const backend = new MemoryQuorumBackend();
  const events: QuorumEvent[] = [];
  const waiter = runWithQuorum(options(backend, 'a', { size: 2 }), () => Promise.resolve(0)).catch((e: Error) => e);
  await sleep(10);
  const applier = runWithQuorum(options(backend, 'b', { size: 2, onProgress: (e) => events.push(e) }), async () => {
    backend.frozen = true;
    await sleep(400);
    return 1;
  });
  t.true((await waiter) instanceof QuorumError);
  await applier;
  t.deepEqual(events.at(-2), { type: 'lease-lost', applier: 'b', outcome: 'applier-lost' });
});

test('a backend that loses its state mid-run stops the waiters; the plan is never applied twice', async (t) => {
  const backend = new MemoryQuorumBackend();
  let applied = 0;
  const runs = ['a', 'b', 'c', 'd'].map((id) =>
    runWithQuorum(options(backend, id), async () => {
      applied++;
      backend.wipe();
      await sleep(50);
      return 1;
    }),
  );
  const settled = await Promise.allSettled(runs);
  t.is(applied, 1);
  const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  t.is(rejected.length, 3);
  for (const r of rejected) t.regex((r.reason as Error).message, /lost the state of this deploy/);
});

test('read errors shorter than the lease are retried and reported as progress', async (t) => {
  const backend = new MemoryQuorumBackend();
  const events: QuorumEvent[] = [];
  const first = runWithQuorum(options(backend, 'a', { size: 2, onProgress: (e) => events.push(e) }), () => Promise.resolve(1));
  backend.failReads = 2;
  await sleep(20);
  await runWithQuorum(options(backend, 'b', { size: 2 }), () => Promise.resolve(1));
  t.like(await first, { role: 'waiter', applier: 'b' });
  t.true(events.some((e) => e.type === 'backend-error'));
});

test('a backend that stays unreachable fails the waiter after the lease time', async (t) => {
  const backend = new MemoryQuorumBackend();
  backend.failReads = Number.POSITIVE_INFINITY;
  const error = await t.throwsAsync(runWithQuorum(options(backend, 'a'), () => Promise.resolve(1)), { instanceOf: QuorumError });
  t.regex(error.message, /^The memory quorum backend \(memory\) failed during 'read': connection reset\./);
});
