import type { QuorumState } from './types.js';

/** What one deployer knows when it decides its next step. */
export interface QuorumView {
  /** Its own arrival number in the generation (1-based). */
  readonly arrival: number;
  /** N, the number of deployers that must arrive. */
  readonly size: number;
  /** The generation's state, as just read from the backend. */
  readonly state: QuorumState;
  /** Milliseconds since the epoch, by the local clock. */
  readonly now: number;
  /** When this deployer stops waiting for the others to arrive (its arrival time + the quorum timeout). */
  readonly deadline: number;
}

/**
 * The next step of a deployer, as data:
 * - `wait`: poll again (`phase` says for what);
 * - `claim-applier`: N have arrived and nobody claimed the generation: try to become its applier;
 * - `declare-timeout`: the deadline passed before N arrived (or another deployer already declared it): end the generation;
 * - `declare-lost`: the applier's lease expired without an outcome: end the generation as lost;
 * - `done` / `failed` / `applier-lost` / `timeout`: the generation is settled with that outcome;
 * - `state-lost`: the backend no longer knows this deployer's arrival (it restarted or evicted the state).
 */
export type QuorumStep =
  | { readonly action: 'wait'; readonly phase: 'arriving' | 'applying'; readonly arrived: number; readonly applier: string | null }
  | { readonly action: 'claim-applier' }
  | { readonly action: 'declare-timeout' }
  | { readonly action: 'declare-lost'; readonly applier: string }
  | { readonly action: 'done'; readonly by: string; readonly message: string | null }
  | { readonly action: 'failed'; readonly by: string; readonly message: string | null }
  | { readonly action: 'applier-lost'; readonly by: string; readonly message: string | null }
  | { readonly action: 'timeout'; readonly by: string; readonly message: string | null }
  | { readonly action: 'state-lost'; readonly arrived: number };

/** Decides a waiting deployer's next step from what it observes; pure, so every rule is unit-tested. */
export function decideQuorumStep(view: QuorumView): QuorumStep {
  const { arrival, size, state, now, deadline } = view;
  const { outcome, decision } = state;

  if (outcome !== null) {
    switch (outcome.kind) {
      case 'applied':
        return { action: 'done', by: outcome.by, message: outcome.message };
      case 'failed':
        return { action: 'failed', by: outcome.by, message: outcome.message };
      case 'applier-lost':
        return { action: 'applier-lost', by: outcome.by, message: outcome.message };
      case 'timeout':
        return { action: 'timeout', by: outcome.by, message: outcome.message };
    }
  }

  // The counter only grows within a generation, so a smaller one means the backend lost the
  // state (a restart, an eviction). Carrying on could elect a second applier: stop instead.
  if (state.arrived < arrival) return { action: 'state-lost', arrived: state.arrived };

  if (decision !== null) {
    if (decision.kind === 'timeout') return { action: 'declare-timeout' };
    if (!state.leaseAlive) return { action: 'declare-lost', applier: decision.applier };
    return { action: 'wait', phase: 'applying', arrived: state.arrived, applier: decision.applier };
  }

  // Arrivals past N (a stale count from a killed deployer, or more deployers than N) may claim
  // too: the claim is atomic, so whoever wins applies once and everyone else waits for it.
  if (arrival >= size && state.arrived >= size) return { action: 'claim-applier' };
  if (now >= deadline) return { action: 'declare-timeout' };
  return { action: 'wait', phase: 'arriving', arrived: state.arrived, applier: null };
}
