import type { OwnerProcessState } from './lock-owner.js';

/** The run that holds (or held) the migration lock, as another run sees it. */
export interface LockHolder {
  readonly host: string;
  readonly pid: number;
  readonly command: string;
  /** How long ago it took the lock. */
  readonly startedAgoMs: number;
  /** How long ago its heartbeat last renewed the lease. */
  readonly renewedAgoMs: number;
  /** How long its lease still runs; negative once it expired. */
  readonly expiresInMs: number;
  /** Whether its process still runs, as far as the observer can tell. */
  readonly process: OwnerProcessState;
}

/** What changed in knex's own lock table (`knex_migrations_lock`). */
export interface KnexLockChange {
  /** Rows set back to `is_locked = 0`. */
  readonly unlocked: number;
  /** Extra rows deleted (knex refuses to lock a table with more than one). */
  readonly deleted: number;
}

/** Progress of the migration lock, for people watching a deploy. */
export type MigrationLockEvent =
  /** The lock is held by another live run: this one waits (sent when it starts waiting, when the holder changes, and every 30 s). */
  | { readonly type: 'waiting'; readonly holder: LockHolder; readonly waitedMs: number; readonly waitLimitMs: number }
  /** This run holds the lock (after `waitedMs` of waiting). */
  | { readonly type: 'acquired'; readonly waitedMs: number }
  /** The holder was dead: its lock was taken over, and knex's lock row that it left was released. */
  | {
      readonly type: 'took-over';
      readonly previous: LockHolder;
      readonly reason: 'lease-expired' | 'owner-gone';
      readonly knexLock: KnexLockChange;
    }
  /**
   * After a takeover: index builds or validations are still running in the database (the dead
   * run's backend goes on after its client is killed); this run waits for them before it starts.
   */
  | { readonly type: 'waiting-for-leftovers'; readonly statements: ReadonlyArray<{ readonly pid: number; readonly query: string; readonly runningMs: number }> }
  /** knex's lock table had extra, unlocked rows (left by runs that created it at the same time): they were deleted. */
  | { readonly type: 'knex-lock-repaired'; readonly deleted: number }
  /** A heartbeat could not renew the lease (it keeps trying; the migration goes on). */
  | { readonly type: 'renew-failed'; readonly message: string }
  /** The lease ran out before a heartbeat renewed it, and another run took the lock over. */
  | { readonly type: 'lost'; readonly holder: LockHolder | null }
  /** The lock was released. */
  | { readonly type: 'released' };

/** `250ms`, `12s`, `3min 4s`, `2h 5min`. */
export function formatDuration(ms: number): string {
  const abs = Math.max(0, Math.round(ms));
  if (abs < 1000) return `${abs}ms`;
  const s = Math.round(abs / 1000);
  if (s < 60) return `${s}s`;
  const min = Math.floor(s / 60);
  if (min < 60) return s % 60 === 0 ? `${min}min` : `${min}min ${s % 60}s`;
  const h = Math.floor(min / 60);
  return min % 60 === 0 ? `${h}h` : `${h}h ${min % 60}min`;
}

/** `host-a pid 1234 (knex-zd migrate:latest)`. */
export function describeHolder(holder: Pick<LockHolder, 'host' | 'pid' | 'command'>): string {
  return `${holder.host} pid ${holder.pid} (${holder.command})`;
}

/** The holder with its times: `… started 12s ago, lease renewed 2s ago`. */
export function describeHolderTimes(holder: LockHolder): string {
  const lease = holder.expiresInMs > 0 ? `lease renewed ${formatDuration(holder.renewedAgoMs)} ago` : `lease expired ${formatDuration(-holder.expiresInMs)} ago`;
  return `${describeHolder(holder)}, started ${formatDuration(holder.startedAgoMs)} ago, ${lease}`;
}

function knexLockText(change: KnexLockChange): string {
  const parts: string[] = [];
  if (change.unlocked > 0) parts.push("released knex's lock row that it left locked");
  if (change.deleted > 0) parts.push(`deleted ${change.deleted} extra row${change.deleted === 1 ? '' : 's'} of knex's lock table`);
  return parts.length === 0 ? '' : `; ${parts.join(', ')}`;
}

/** One line per event worth telling a person (null for the others), without a trailing newline. */
export function formatMigrationLockEvent(event: MigrationLockEvent): string | null {
  switch (event.type) {
    case 'waiting':
      return (
        `migration lock: held by ${describeHolderTimes(event.holder)}; ` +
        `waiting for it (${formatDuration(event.waitedMs)} so far, at most ${formatDuration(event.waitLimitMs)}; --no-wait to stop at once instead)`
      );
    case 'acquired':
      return event.waitedMs > 0 ? `migration lock: acquired after waiting ${formatDuration(event.waitedMs)}` : null;
    case 'took-over': {
      const why =
        event.reason === 'owner-gone'
          ? `its process is gone (pid ${event.previous.pid} no longer runs on this machine)`
          : `its lease expired ${formatDuration(-event.previous.expiresInMs)} ago`;
      return (
        `migration lock: took over the lock of ${describeHolder(event.previous)}, started ${formatDuration(event.previous.startedAgoMs)} ago ` +
        `and last renewed ${formatDuration(event.previous.renewedAgoMs)} ago: ${why}${knexLockText(event.knexLock)}. ` +
        'That run may have stopped half-way through a migration: the migrations that it did not record run again.'
      );
    }
    case 'waiting-for-leftovers':
      return (
        `migration lock: waiting for ${event.statements.length === 1 ? 'a statement' : `${event.statements.length} statements`} that may be the dead run's, ` +
        `still running on the server: ${event.statements.map((s) => `pid ${s.pid} (${formatDuration(s.runningMs)}): ${s.query}`).join('; ')}`
      );
    case 'knex-lock-repaired':
      return `migration lock: deleted ${event.deleted} extra unlocked row${event.deleted === 1 ? '' : 's'} of knex's lock table (two runs once created it at the same time), which made every knex run fail with "Migration table is already locked"`;
    case 'renew-failed':
      return `migration lock: could not renew the lease (${event.message}); retrying`;
    case 'lost':
      return (
        `migration lock: LOST. The lease ran out before this run renewed it${event.holder ? `, and ${describeHolder(event.holder)} took it over` : ''}. ` +
        'Another run may now apply migrations at the same time as this one: check knex-zd migrate:status once both are done.'
      );
    case 'released':
      return null;
  }
}
