import type { OwnerProcessState } from './lock-owner.js';

/** What a process that wants the migration lock knows when the lock row is already there. */
export interface LockView {
  /** True when the holder's lease has run out, by the database server's clock. */
  readonly leaseExpired: boolean;
  /** Whether the holder's process still runs, as far as this process can tell. */
  readonly ownerProcess: OwnerProcessState;
  /** False with `--no-wait`: never wait for a live holder. */
  readonly wait: boolean;
  /** Milliseconds since the epoch, by the local clock. */
  readonly now: number;
  /** When this process stops waiting (its first attempt + the wait bound). */
  readonly deadline: number;
}

/**
 * The next step of a process that found the lock held:
 * - `take-over`: the holder is dead (its lease expired, or its process is gone on this machine);
 * - `wait`: the holder is alive: poll again;
 * - `give-up`: the holder is alive and this process must not wait (`no-wait`) or has waited long enough (`timeout`).
 */
export type LockStep =
  | { readonly action: 'take-over'; readonly reason: 'lease-expired' | 'owner-gone' }
  | { readonly action: 'wait' }
  | { readonly action: 'give-up'; readonly reason: 'no-wait' | 'timeout' };

/** Decides what to do about a held migration lock; pure, so that every rule is unit-tested. */
export function decideLockStep(view: LockView): LockStep {
  // A process that is known to be gone cannot renew its lease: waiting for it would only delay the rerun.
  if (view.ownerProcess === 'gone') return { action: 'take-over', reason: 'owner-gone' };
  // A process known to be alive keeps its lock even past its lease (a heartbeat starved by a
  // stalled event loop): two runs at once is the one outcome the lock exists to prevent.
  if (view.leaseExpired && view.ownerProcess === 'unknown') return { action: 'take-over', reason: 'lease-expired' };
  if (!view.wait) return { action: 'give-up', reason: 'no-wait' };
  if (view.now >= view.deadline) return { action: 'give-up', reason: 'timeout' };
  return { action: 'wait' };
}
