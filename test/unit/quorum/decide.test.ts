import test from 'ava';
import { decideQuorumStep, type QuorumView } from '../../../src/quorum/decide.js';
import type { QuorumState } from '../../../src/quorum/types.js';

const NOW = 1_000_000;
const empty: QuorumState = { arrived: 0, decision: null, leaseAlive: false, outcome: null };

function view(state: Partial<QuorumState>, overrides: Partial<QuorumView> = {}): QuorumView {
  return { arrival: 1, size: 3, state: { ...empty, ...state }, now: NOW, deadline: NOW + 1000, ...overrides };
}

test('waits while fewer than N have arrived', (t) => {
  t.deepEqual(decideQuorumStep(view({ arrived: 2 })), { action: 'wait', phase: 'arriving', arrived: 2, applier: null });
});

test('the N-th arrival claims the generation', (t) => {
  t.deepEqual(decideQuorumStep(view({ arrived: 3 }, { arrival: 3 })), { action: 'claim-applier' });
});

test('an arrival past N claims too when nobody has (a stale count or extra deployers never hang)', (t) => {
  t.deepEqual(decideQuorumStep(view({ arrived: 5 }, { arrival: 5 })), { action: 'claim-applier' });
});

test('an early arrival does not claim, even when N have arrived: the N-th does', (t) => {
  t.deepEqual(decideQuorumStep(view({ arrived: 3 }, { arrival: 1 })).action, 'wait');
});

test('waits for a live applier, naming it', (t) => {
  t.deepEqual(decideQuorumStep(view({ arrived: 3, decision: { kind: 'applier', applier: 'a' }, leaseAlive: true })), {
    action: 'wait',
    phase: 'applying',
    arrived: 3,
    applier: 'a',
  });
});

test('a live applier is waited for past the arrival deadline: the timeout bounds arriving, not applying', (t) => {
  const step = decideQuorumStep(
    view({ arrived: 3, decision: { kind: 'applier', applier: 'a' }, leaseAlive: true }, { now: NOW + 5000 }),
  );
  t.is(step.action, 'wait');
});

test('an applier whose lease expired without an outcome is declared lost', (t) => {
  t.deepEqual(decideQuorumStep(view({ arrived: 3, decision: { kind: 'applier', applier: 'a' }, leaseAlive: false })), {
    action: 'declare-lost',
    applier: 'a',
  });
});

test('declares a timeout at the deadline when N have not arrived', (t) => {
  t.deepEqual(decideQuorumStep(view({ arrived: 2 }, { now: NOW + 1000 })), { action: 'declare-timeout' });
  t.deepEqual(decideQuorumStep(view({ arrived: 2 }, { now: NOW + 999 })).action, 'wait');
});

test('joins a timeout that another deployer declared, before its own deadline', (t) => {
  t.deepEqual(decideQuorumStep(view({ arrived: 2, decision: { kind: 'timeout', by: 'b' } })), { action: 'declare-timeout' });
});

test('every outcome is terminal and reported as is', (t) => {
  const cases = [
    ['applied', 'done'],
    ['failed', 'failed'],
    ['applier-lost', 'applier-lost'],
    ['timeout', 'timeout'],
  ] as const;
  for (const [kind, action] of cases) {
    t.deepEqual(decideQuorumStep(view({ arrived: 3, outcome: { kind, by: 'a', message: 'm' } })), {
      action,
      by: 'a',
      message: 'm',
    });
  }
});

test('an outcome wins over a count that went backwards (the applier settled after a restart)', (t) => {
  t.is(decideQuorumStep(view({ arrived: 0, outcome: { kind: 'applied', by: 'a', message: null } }, { arrival: 2 })).action, 'done');
});

test('a count below its own arrival means the backend lost the state: stop, never claim again', (t) => {
  t.deepEqual(decideQuorumStep(view({ arrived: 0 }, { arrival: 3 })), { action: 'state-lost', arrived: 0 });
  t.deepEqual(decideQuorumStep(view({ arrived: 1 }, { arrival: 4, size: 3 })), { action: 'state-lost', arrived: 1 });
});
