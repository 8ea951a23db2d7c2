/**
 * The contract between the quorum protocol (`runWithQuorum`) and its storage backends.
 *
 * A namespace (one deploy's plan) goes through numbered generations. A generation is one
 * attempt at the deploy: deployers arrive in it, one of them claims it (as applier, or to
 * declare a timeout), and exactly one outcome settles it. Once settled, the next arrival
 * opens the following generation, so a rerun after a failure, a timeout or a killed
 * applier starts from a clean counter.
 */

/** Who decided a generation: the applier that claimed it, or a waiter that declared a timeout. */
export type QuorumDecision =
  | { readonly kind: 'applier'; readonly applier: string }
  | { readonly kind: 'timeout'; readonly by: string };

/** How a generation ended. */
export type QuorumOutcomeKind = 'applied' | 'failed' | 'applier-lost' | 'timeout';

/** The outcome that settled a generation (written once). */
export interface QuorumOutcome {
  readonly kind: QuorumOutcomeKind;
  /** The deployer that wrote the outcome. */
  readonly by: string;
  /** The applier's summary when applied, its error message when failed, an explanation otherwise. */
  readonly message: string | null;
}

/** What a deployer observes of one generation. */
export interface QuorumState {
  /** How many deployers have arrived; 0 when the backend has no record of the generation. */
  readonly arrived: number;
  readonly decision: QuorumDecision | null;
  /** True while the applier's lease has not expired (by the backend's clock). */
  readonly leaseAlive: boolean;
  readonly outcome: QuorumOutcome | null;
}

/** One deployer's place in a namespace. */
export interface QuorumArrival {
  readonly generation: number;
  /** 1 for the first deployer to arrive in the generation, N for the N-th. */
  readonly arrival: number;
}

/** A claim on a generation: become its applier (with a lease), or end it as timed out. */
export type QuorumClaim =
  | { readonly kind: 'applier'; readonly applier: string; readonly leaseMs: number }
  | { readonly kind: 'timeout'; readonly by: string };

/**
 * Storage of the quorum protocol. Every method is atomic on its own; `ttlMs` bounds how long
 * the backend keeps a generation that nobody touches any more (deployers that were all killed),
 * so that abandoned state never blocks a later deploy.
 */
export interface QuorumBackend {
  /** Backend name, shown in messages: `'postgres'`, `'redis'` or `'memcached'`. */
  readonly name: string;
  /** Where the state lives, for error messages (never contains a password). */
  readonly location: string;
  /** Checks that the backend is reachable (and creates its storage if needed). Throws a `QuorumError`. */
  connect(): Promise<void>;
  /** Counts one more deployer in the namespace's open generation, opening a new one after a settled one. */
  arrive(namespace: string, ttlMs: number): Promise<QuorumArrival>;
  /** Reads a generation's state. */
  read(namespace: string, generation: number): Promise<QuorumState>;
  /** Claims a generation that has neither a decision nor an outcome; false when someone else got there first. */
  claim(namespace: string, generation: number, claim: QuorumClaim, ttlMs: number): Promise<boolean>;
  /** Extends the applier's lease; false when the generation is settled or its state is gone. */
  renewLease(namespace: string, generation: number, applier: string, leaseMs: number, ttlMs: number): Promise<boolean>;
  /** Writes the generation's outcome if it has none yet; false when it was already settled. */
  settle(namespace: string, generation: number, outcome: QuorumOutcome, ttlMs: number): Promise<boolean>;
  /** Releases connections (never closes a knex instance that it was given). */
  close(): Promise<void>;
}
