/* eslint-disable @typescript-eslint/require-await -- the interface is async; memory needs no waiting */
import type { QuorumArrival, QuorumBackend, QuorumClaim, QuorumOutcome, QuorumState } from '../../../src/quorum/types.js';

interface Generation {
  arrived: number;
  decision: QuorumState['decision'];
  leaseUntil: number;
  outcome: QuorumOutcome | null;
}

/** The quorum protocol's storage in memory, for unit tests of runWithQuorum (the real backends have integration tests). */
export class MemoryQuorumBackend implements QuorumBackend {
  readonly name = 'memory';
  readonly location = 'memory';
  readonly generations = new Map<string, Generation[]>();
  /** When true, renewLease does nothing (an applier whose heartbeat cannot get through). */
  frozen = false;
  /** How many upcoming read() calls throw. */
  failReads = 0;

  connect(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }

  #list(namespace: string): Generation[] {
    let list = this.generations.get(namespace);
    if (!list) this.generations.set(namespace, (list = []));
    return list;
  }

  /** Forgets everything, like a Memcached restart. */
  wipe(): void {
    this.generations.clear();
  }

  async arrive(namespace: string): Promise<QuorumArrival> {
    const list = this.#list(namespace);
    let generation = 0;
    while (list[generation]?.outcome) generation++;
    const g = (list[generation] ??= { arrived: 0, decision: null, leaseUntil: 0, outcome: null });
    g.arrived++;
    return { generation, arrival: g.arrived };
  }

  async read(namespace: string, generation: number): Promise<QuorumState> {
    if (this.failReads > 0) {
      this.failReads--;
      throw new Error('connection reset');
    }
    const g = this.generations.get(namespace)?.[generation];
    if (!g) return { arrived: 0, decision: null, leaseAlive: false, outcome: null };
    return { arrived: g.arrived, decision: g.decision, leaseAlive: g.leaseUntil > Date.now(), outcome: g.outcome };
  }

  async claim(namespace: string, generation: number, claim: QuorumClaim): Promise<boolean> {
    const g = this.generations.get(namespace)?.[generation];
    if (!g || g.decision || g.outcome) return false;
    if (claim.kind === 'applier') {
      g.decision = { kind: 'applier', applier: claim.applier };
      g.leaseUntil = Date.now() + claim.leaseMs;
    } else {
      g.decision = { kind: 'timeout', by: claim.by };
    }
    return true;
  }

  async renewLease(namespace: string, generation: number, applier: string, leaseMs: number): Promise<boolean> {
    const g = this.generations.get(namespace)?.[generation];
    if (this.frozen || !g || g.outcome || g.decision?.kind !== 'applier' || g.decision.applier !== applier) return false;
    g.leaseUntil = Date.now() + leaseMs;
    return true;
  }

  async settle(namespace: string, generation: number, outcome: QuorumOutcome): Promise<boolean> {
    const list = this.#list(namespace);
    const g = (list[generation] ??= { arrived: 0, decision: null, leaseUntil: 0, outcome: null });
    if (g.outcome) return false;
    g.outcome = outcome;
    return true;
  }
}
