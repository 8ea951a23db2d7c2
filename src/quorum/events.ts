/** Progress of one deployer in a quorum, reported through `onProgress`. */
export type QuorumEvent =
  /** Coordination was skipped: `--quorum 1`, or nothing is pending. */
  | { readonly type: 'skipped'; readonly reason: 'size-1' | 'empty-plan' }
  /** This deployer arrived: it is the `arrival`-th of `size`. */
  | {
      readonly type: 'arrived';
      readonly deployer: string;
      readonly arrival: number;
      readonly size: number;
      readonly namespace: string;
      readonly generation: number;
      readonly backend: string;
    }
  /** The number of deployers that have arrived changed. */
  | { readonly type: 'waiting'; readonly arrived: number; readonly size: number }
  /** An applier claimed the generation (`self` when it is this deployer). */
  | { readonly type: 'applying'; readonly applier: string; readonly self: boolean }
  /** The plan was applied (by this deployer when `self`). */
  | { readonly type: 'applied'; readonly applier: string; readonly self: boolean; readonly summary: string | null }
  /** This deployer applied the plan, but the waiters had already given up on it (its lease expired). */
  | { readonly type: 'lease-lost'; readonly applier: string; readonly outcome: string }
  /** A backend call failed; the deployer retries until the lease time has passed. */
  | { readonly type: 'backend-error'; readonly message: string };

/**
 * One line of progress for a terminal, e.g. `quorum: 3 of 5 deployers arrived`.
 * The CLI prints it for every event.
 */
export function formatQuorumEvent(event: QuorumEvent): string {
  switch (event.type) {
    case 'skipped':
      return event.reason === 'size-1'
        ? 'quorum: --quorum 1, applying without coordination'
        : 'quorum: nothing to apply, no coordination needed';
    case 'arrived':
      return (
        `quorum: arrived as ${event.arrival} of ${event.size} (deployer ${event.deployer}, ` +
        `${event.backend} backend, namespace ${event.namespace}, generation ${event.generation})`
      );
    case 'waiting':
      return `quorum: ${Math.min(event.arrived, event.size)} of ${event.size} deployers arrived`;
    case 'applying':
      return event.self
        ? 'quorum: all deployers arrived; this deployer applies the plan'
        : `quorum: all deployers arrived; ${event.applier} applies the plan, waiting for it`;
    case 'applied':
      return event.self
        ? `quorum: applied by this deployer (${event.applier})${event.summary ? `: ${event.summary}` : ''}`
        : `quorum: applied by ${event.applier}${event.summary ? `: ${event.summary}` : ''}`;
    case 'lease-lost':
      return (
        `quorum: warning: the plan was applied here, but the other deployers gave up on this one ` +
        `(outcome '${event.outcome}') because its lease was not renewed in time; they exited with an error`
      );
    case 'backend-error':
      return `quorum: backend error, retrying: ${event.message}`;
  }
}
