import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { ConfigError, MigrationLockError, sqlStateOf } from '../errors.js';
import { quoteQualified } from '../identifiers.js';
import { readKnexLock, resetKnexLock, knexLockTableName } from './knex-lock-row.js';
import { LockConnection } from './lock-connection.js';
import { decideLockStep } from './lock-decision.js';
import { describeHolderTimes, formatDuration, type KnexLockChange, type LockHolder, type MigrationLockEvent } from './lock-events.js';
import { currentOwner, ownerProcessState, type LockOwnerIdentity } from './lock-owner.js';

/** The lock table's default name; it lives beside knex's tables (the migrator's `schemaName`). */
export const DEFAULT_LOCK_TABLE = 'knex_zd_lock';
/** How long a lease lasts without a heartbeat; the holder renews it every third of that. */
export const DEFAULT_LOCK_LEASE_MS = 30_000;
/** How long a run waits for a live holder before it gives up. */
export const DEFAULT_LOCK_WAIT_MS = 30 * 60_000;

/** Options of {@link MigrationLock}. */
export interface MigrationLockOptions {
  /** knex's migrations table that the lock guards: the lock row's key, and `<name>_lock` is knex's own lock table. @default 'knex_migrations' */
  readonly migrationsTable?: string;
  /** Schema of the lock table and of knex's tables. @default the connection's `current_schema()` */
  readonly schemaName?: string;
  /** The lock table. @default 'knex_zd_lock' */
  readonly tableName?: string;
  /** How long the lease lasts without a heartbeat; a dead holder's lock is taken over after it. @default 30_000 */
  readonly leaseMs?: number;
  /** Wait for a live holder (false: fail at once, naming it). @default true */
  readonly wait?: boolean;
  /** How long to wait for a live holder before failing. @default 1_800_000 (30 minutes) */
  readonly waitTimeoutMs?: number;
  /** How often a waiting run looks at the lock again. @default min(1000, leaseMs / 4) */
  readonly pollMs?: number;
  /** What this run does, shown to the runs that wait for it. @default this process's command line */
  readonly command?: string;
  /** Progress: waiting (with the holder), takeover (with what was taken over), a lost lease. */
  readonly onEvent?: (event: MigrationLockEvent) => void;
}

/** A lock this run holds; `release()` it in a `finally`. */
export interface HeldMigrationLock {
  /** The run whose dead lock was taken over, if any. */
  readonly tookOver: LockHolder | null;
  /** True once a heartbeat found the lock taken over by another run (the lease ran out). */
  readonly lost: boolean;
  /** Stops the heartbeat and deletes the lock row; never throws (a row left behind expires with its lease). */
  release(): Promise<void>;
}

/** What {@link MigrationLock.unlock} released. */
export interface UnlockResult {
  /** The knex-zd lock's holder that was released, or null when nobody held it. */
  readonly released: LockHolder | null;
  /** Whether the released holder was alive as far as this run could tell (only with `force`). */
  readonly forced: boolean;
  /** What changed in knex's lock table. */
  readonly knexLock: KnexLockChange;
}

interface HolderRow {
  owner: string;
  host: string;
  pid: number;
  process_key: string | null;
  command: string;
  started_ago_ms: number;
  renewed_ago_ms: number;
  expires_in_ms: number;
}

interface LeftoverStatement {
  pid: number;
  query: string;
  running_ms: number;
}

const CREATE_RACE_STATES = new Set(['23505', '42P07', '42710']);

function positive(value: number, option: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`${option} must be a positive number of milliseconds; got ${String(value)}.`);
  return value;
}

/**
 * knex-zd's own migration lock: one row per migrations table in `knex_zd_lock`, with its owner
 * (host, pid, command, start time) and a lease that a heartbeat renews. A run that finds it held
 * waits (or, with `wait: false`, fails at once naming the holder); a dead holder's lock is taken
 * over when its lease has expired, or at once when it ran on this machine and its process is gone,
 * and the takeover also releases knex's own lock row that the dead run left. Every statement
 * stands alone (no session advisory lock, no `SET`), so it works through pgbouncer in transaction
 * pooling. knex's tables are left as plain knex knows them.
 * @example
 * const held = await new MigrationLock(knex, { onEvent: (e) => console.error(formatMigrationLockEvent(e)) }).acquire();
 * try {
 *   await knex.migrate.latest();
 * } finally {
 *   await held.release();
 * }
 */
export class MigrationLock {
  readonly #knex: Knex;
  readonly #migrationsTable: string;
  readonly #schemaOption: string | undefined;
  readonly #tableName: string;
  readonly #leaseMs: number;
  readonly #wait: boolean;
  readonly #waitTimeoutMs: number;
  readonly #pollMs: number;
  readonly #owner: LockOwnerIdentity;
  readonly #emit: (event: MigrationLockEvent) => void;

  constructor(knex: Knex, options: MigrationLockOptions = {}) {
    this.#knex = knex;
    this.#migrationsTable = options.migrationsTable ?? 'knex_migrations';
    // knex's merged migrator config says null for "no schema".
    this.#schemaOption = options.schemaName ?? undefined;
    this.#tableName = options.tableName ?? DEFAULT_LOCK_TABLE;
    this.#leaseMs = positive(options.leaseMs ?? DEFAULT_LOCK_LEASE_MS, 'The migration lock lease');
    this.#wait = options.wait ?? true;
    this.#waitTimeoutMs = positive(options.waitTimeoutMs ?? DEFAULT_LOCK_WAIT_MS, 'The migration lock wait');
    this.#pollMs = positive(options.pollMs ?? Math.max(10, Math.min(1000, Math.floor(this.#leaseMs / 4))), 'The migration lock poll interval');
    this.#owner = currentOwner(options.command);
    const onEvent = options.onEvent;
    this.#emit = (event) => {
      try {
        onEvent?.(event);
      } catch {
        // A progress callback must never break the lock.
      }
    };
  }

  /** Takes the lock: waits for a live holder (bounded), takes a dead one's over. Throws a {@link MigrationLockError}. */
  async acquire(): Promise<HeldMigrationLock> {
    const connection = new LockConnection(this.#knex);
    try {
      const schema = await this.#schema(connection);
      await this.#ensureTable(connection, schema);
      const token = randomBytes(12).toString('hex');
      const started = Date.now();
      const taken = await this.#take(connection, schema, token, started);
      const knexLock = await this.#settleKnexLock(connection, schema, token, taken.previous);
      if (taken.previous !== null && taken.reason !== null) {
        this.#emit({ type: 'took-over', previous: taken.previous, reason: taken.reason, knexLock });
        await this.#awaitLeftovers(connection, schema, token, started);
      }
      this.#emit({ type: 'acquired', waitedMs: taken.waited ? Date.now() - started : 0 });
      return this.#held(connection, schema, token, taken.previous);
    } catch (error) {
      await connection.close();
      if (error instanceof MigrationLockError || error instanceof ConfigError) throw error;
      throw new MigrationLockError(
        `Could not take the migration lock (${this.#describeTable(this.#schemaOption ?? null)}): ${(error as Error).message.replace(/\.$/, '')}. Nothing was applied. ` +
          'Check that the migration user may create and write that table (or create it beforehand: MigrationLock.createTableSql()).',
        { cause: error },
      );
    }
  }

  /** The current holder, or null; reads only. */
  async holder(): Promise<LockHolder | null> {
    const connection = new LockConnection(this.#knex);
    try {
      const schema = await this.#schema(connection);
      if (!(await this.#tableExists(connection, schema))) return null;
      const row = await this.#readHolder(connection, schema);
      return row === null ? null : holderOf(row);
    } finally {
      await connection.close();
    }
  }

  /**
   * `migrate:unlock`: releases a knex-zd lock whose holder is dead (lease expired, or its process
   * gone on this machine) and leaves knex's lock table as `knex migrate:unlock` does. A live
   * holder is refused with a {@link MigrationLockError} naming it, unless `force`.
   */
  async unlock(options: { force?: boolean } = {}): Promise<UnlockResult> {
    const connection = new LockConnection(this.#knex);
    try {
      const schema = await this.#schema(connection);
      let released: LockHolder | null = null;
      let forced = false;
      if (await this.#tableExists(connection, schema)) {
        const row = await this.#readHolder(connection, schema);
        if (row !== null) {
          const holder = holderOf(row);
          const step = decideLockStep({ leaseExpired: holder.expiresInMs <= 0, ownerProcess: holder.process, wait: false, now: 0, deadline: 0 });
          if (step.action !== 'take-over') {
            if (!options.force) {
              throw new MigrationLockError(
                `The migration lock is held by a run that looks alive: ${describeHolderTimes(holder)}.\n` +
                  `Releasing it would let another run apply migrations at the same time as that one, so nothing was changed. ` +
                  `Wait for it to finish; a run that was killed loses the lock by itself when its lease runs out ` +
                  `(${formatDuration(Math.max(0, holder.expiresInMs))} from now), or at once for a rerun on the same machine. ` +
                  `If you are sure that it no longer runs:\n\n    knex-zd migrate:unlock --force\n`,
                { details: { holder } },
              );
            }
            forced = true;
          }
          const deleted = await connection.query(`DELETE FROM ${this.#table(schema)} WHERE name = $1 AND owner = $2 RETURNING name`, [
            this.#migrationsTable,
            row.owner,
          ]);
          if (deleted.length === 1) released = holder;
        }
      }
      const knexLock = await resetKnexLock(connection.query, schema, this.#migrationsTable);
      return { released, forced, knexLock };
    } finally {
      await connection.close();
    }
  }

  /** The DDL of the lock table, for teams that create it ahead of time. */
  static createTableSql(schema: string, tableName = DEFAULT_LOCK_TABLE): string {
    return `CREATE TABLE IF NOT EXISTS ${quoteQualified(schema, tableName)} (
  name text PRIMARY KEY,
  owner text NOT NULL,
  host text NOT NULL,
  pid integer NOT NULL,
  process_key text,
  command text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  renewed_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
)`;
  }

  #table(schema: string): string {
    return quoteQualified(schema, this.#tableName);
  }

  #describeTable(schema: string | null): string {
    return `table ${schema === null ? '' : `${schema}.`}${this.#tableName}, row ${this.#migrationsTable}`;
  }

  async #schema(connection: LockConnection): Promise<string> {
    if (this.#schemaOption !== undefined) return this.#schemaOption;
    const [row] = await connection.query<{ schema: string | null }>('SELECT current_schema() AS schema');
    if (!row?.schema) {
      throw new MigrationLockError(
        'The connection has no current schema (its search_path names no existing schema), so there is nowhere to keep the migration lock. ' +
          "Set the knexfile's migrations.schemaName, or fix the search_path. Nothing was applied.",
      );
    }
    return row.schema;
  }

  async #tableExists(connection: LockConnection, schema: string): Promise<boolean> {
    const [row] = await connection.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [this.#table(schema)]);
    return row?.exists === true;
  }

  async #ensureTable(connection: LockConnection, schema: string): Promise<void> {
    if (await this.#tableExists(connection, schema)) return;
    try {
      await connection.query(MigrationLock.createTableSql(schema, this.#tableName));
    } catch (error) {
      // Two runs creating the table at once: IF NOT EXISTS does not cover a creation that is not
      // committed yet, and the loser fails on the catalog's unique indexes. The table is there now.
      if (!CREATE_RACE_STATES.has(sqlStateOf(error) ?? '') || !(await this.#tableExists(connection, schema))) throw error;
    }
  }

  async #readHolder(connection: LockConnection, schema: string): Promise<HolderRow | null> {
    const [row] = await connection.query<HolderRow>(
      `SELECT owner, host, pid, process_key, command,
              (extract(epoch FROM now() - started_at) * 1000)::float8 AS started_ago_ms,
              (extract(epoch FROM now() - renewed_at) * 1000)::float8 AS renewed_ago_ms,
              (extract(epoch FROM expires_at - now()) * 1000)::float8 AS expires_in_ms
         FROM ${this.#table(schema)} WHERE name = $1`,
      [this.#migrationsTable],
    );
    return row ?? null;
  }

  async #take(
    connection: LockConnection,
    schema: string,
    token: string,
    started: number,
  ): Promise<{ previous: LockHolder | null; reason: 'lease-expired' | 'owner-gone' | null; waited: boolean }> {
    const owner = this.#owner;
    const deadline = started + this.#waitTimeoutMs;
    let waited = false;
    let lastReport: { owner: string; at: number } | null = null;
    for (;;) {
      const inserted = await connection.query(
        `INSERT INTO ${this.#table(schema)} (name, owner, host, pid, process_key, command, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + $7::float8 * interval '1 millisecond')
         ON CONFLICT (name) DO NOTHING RETURNING name`,
        [this.#migrationsTable, token, owner.host, owner.pid, owner.processKey, owner.command, this.#leaseMs],
      );
      if (inserted.length === 1) return { previous: null, reason: null, waited };
      const row = await this.#readHolder(connection, schema);
      if (row === null) continue; // released in between: try again at once
      const holder = holderOf(row);
      const step = decideLockStep({
        leaseExpired: holder.expiresInMs <= 0,
        ownerProcess: holder.process,
        wait: this.#wait,
        now: Date.now(),
        deadline,
      });
      switch (step.action) {
        case 'take-over': {
          const updated = await connection.query(
            `UPDATE ${this.#table(schema)}
                SET owner = $3, host = $4, pid = $5, process_key = $6, command = $7,
                    started_at = now(), renewed_at = now(), expires_at = now() + $8::float8 * interval '1 millisecond'
              WHERE name = $1 AND owner = $2 AND ($9 OR expires_at <= now())
             RETURNING name`,
            [this.#migrationsTable, row.owner, token, owner.host, owner.pid, owner.processKey, owner.command, this.#leaseMs, step.reason === 'owner-gone'],
          );
          // Another run took it first (or the holder renewed or released it): look again.
          if (updated.length === 1) return { previous: holder, reason: step.reason, waited };
          continue;
        }
        case 'give-up':
          throw this.#heldError(holder, step.reason, Date.now() - started);
        case 'wait': {
          const now = Date.now();
          if (lastReport === null || lastReport.owner !== row.owner || now - lastReport.at >= 30_000) {
            lastReport = { owner: row.owner, at: now };
            this.#emit({ type: 'waiting', holder, waitedMs: now - started, waitLimitMs: this.#waitTimeoutMs });
          }
          waited = true;
          await sleep(Math.min(this.#pollMs, Math.max(1, deadline - now)));
        }
      }
    }
  }

  /**
   * A killed client's backend goes on with the statement it was running (PostgreSQL notices the
   * closed connection only when it next talks to it): an index build or a VALIDATE of the dead run
   * may still be running, and redoing its operation now could deadlock with it (a DROP INDEX
   * CONCURRENTLY of the index it is building). Wait, reporting them, until the index builds and
   * validations that started before the takeover are over; give up after the wait bound.
   */
  async #awaitLeftovers(connection: LockConnection, schema: string, token: string, started: number): Promise<void> {
    const deadline = started + this.#waitTimeoutMs;
    let reported = 0;
    for (;;) {
      const statements = await connection.query<LeftoverStatement>(
        `SELECT a.pid, left(regexp_replace(a.query, '\\s+', ' ', 'g'), 200) AS query,
                (extract(epoch FROM now() - a.query_start) * 1000)::float8 AS running_ms
           FROM pg_stat_activity a
          WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.state = 'active'
            AND (a.pid IN (SELECT p.pid FROM pg_stat_progress_create_index p) OR a.query ~* '^\\s*ALTER\\s+TABLE\\M.*\\mVALIDATE\\s+CONSTRAINT\\M')
          ORDER BY a.query_start`,
      );
      if (statements.length === 0) return;
      const now = Date.now();
      if (now >= deadline) {
        await connection.query(`DELETE FROM ${this.#table(schema)} WHERE name = $1 AND owner = $2`, [this.#migrationsTable, token]);
        throw new MigrationLockError(
          `The run whose lock was taken over left statements running (${statements.map((s) => `pid ${s.pid}: ${s.query}`).join('; ')}), ` +
            `still running after ${formatDuration(now - started)}. Nothing was applied. Wait for them to end, or cancel them ` +
            `(SELECT pg_cancel_backend(pid)), then rerun.`,
          { details: { statements } },
        );
      }
      if (reported === 0 || now - reported >= 30_000) {
        reported = now;
        this.#emit({
          type: 'waiting-for-leftovers',
          statements: statements.map((s) => ({ pid: Number(s.pid), query: s.query, runningMs: Number(s.running_ms) })),
        });
      }
      await sleep(Math.min(this.#pollMs, Math.max(1, deadline - now)));
    }
  }

  #heldError(holder: LockHolder, reason: 'no-wait' | 'timeout', waitedMs: number): MigrationLockError {
    const who = describeHolderTimes(holder);
    const alive = holder.expiresInMs <= 0 && holder.process === 'alive' ? ` Its lease expired, but pid ${holder.pid} still runs on this machine.` : '';
    const message =
      reason === 'no-wait'
        ? `Another run holds the migration lock: ${who}.${alive}\nNothing was applied (--no-wait). ` +
          'Let that run finish, or rerun without --no-wait to wait for it and then apply what is still pending.'
        : `Waited ${formatDuration(waitedMs)} for the migration lock, held by ${who}.${alive}\nNothing was applied. ` +
          'If that run is stuck, stop it: a stopped run loses the lock when its lease runs out (at once for a rerun on the same machine). ' +
          `To wait longer:\n\n    knex-zd migrate:latest --lock-wait ${Math.ceil((this.#waitTimeoutMs * 2) / 60_000)}min\n`;
    return new MigrationLockError(message, { details: { holder, reason, waitedMs, lock: this.#describeTable(null) } });
  }

  /**
   * knex's lock row, once knex-zd's lock is ours. After a takeover it was left by the dead run:
   * release it. Otherwise no knex-zd run holds it, so a set row means plain knex: refuse.
   */
  async #settleKnexLock(connection: LockConnection, schema: string, token: string, previous: LockHolder | null): Promise<KnexLockChange> {
    if (previous !== null) return resetKnexLock(connection.query, schema, this.#migrationsTable);
    const state = await readKnexLock(connection.query, schema, this.#migrationsTable);
    if (state.locked > 0) {
      await connection.query(`DELETE FROM ${this.#table(schema)} WHERE name = $1 AND owner = $2`, [this.#migrationsTable, token]);
      throw new MigrationLockError(
        `knex's migration lock (${schema}.${knexLockTableName(this.#migrationsTable)}) is set, but no knex-zd run holds the migration lock: ` +
          'a plain `knex migrate:…` may be running right now, or one was killed and left it set. ' +
          'knex-zd cannot tell which, so it leaves it alone, and nothing was applied.\n' +
          'Wait for that run to finish. If you are sure that no migration is running:\n\n    knex-zd migrate:unlock\n',
        { details: { knexLock: state } },
      );
    }
    if (state.rows > 1) {
      const change = await resetKnexLock(connection.query, schema, this.#migrationsTable);
      if (change.deleted > 0) this.#emit({ type: 'knex-lock-repaired', deleted: change.deleted });
      return change;
    }
    return { unlocked: 0, deleted: 0 };
  }

  #held(connection: LockConnection, schema: string, token: string, previous: LockHolder | null): HeldMigrationLock {
    const controller = new AbortController();
    let lost = false;
    const every = Math.max(10, Math.floor(this.#leaseMs / 3));
    const heartbeat = (async () => {
      while (!controller.signal.aborted && !lost) {
        try {
          await sleep(every, undefined, { signal: controller.signal, ref: false });
        } catch {
          return;
        }
        try {
          const renewed = await connection.query(
            `UPDATE ${this.#table(schema)} SET renewed_at = now(), expires_at = now() + $3::float8 * interval '1 millisecond'
              WHERE name = $1 AND owner = $2 RETURNING name`,
            [this.#migrationsTable, token, this.#leaseMs],
          );
          if (renewed.length === 0) {
            lost = true;
            const row = await this.#readHolder(connection, schema).catch(() => null);
            this.#emit({ type: 'lost', holder: row === null ? null : holderOf(row) });
          }
        } catch (error) {
          // Keep going: stopping half-way through a migration is worse than a late renewal.
          this.#emit({ type: 'renew-failed', message: (error as Error).message });
        }
      }
    })();
    let released = false;
    return {
      tookOver: previous,
      get lost() {
        return lost;
      },
      release: async () => {
        if (released) return;
        released = true;
        controller.abort();
        await heartbeat;
        try {
          await connection.query(`DELETE FROM ${this.#table(schema)} WHERE name = $1 AND owner = $2`, [this.#migrationsTable, token]);
          this.#emit({ type: 'released' });
        } catch (error) {
          this.#emit({ type: 'renew-failed', message: `could not release the lock, it expires with its lease: ${(error as Error).message}` });
        } finally {
          await connection.close();
        }
      },
    };
  }
}

function holderOf(row: HolderRow): LockHolder {
  return {
    host: row.host,
    pid: Number(row.pid),
    command: row.command,
    startedAgoMs: Number(row.started_ago_ms),
    renewedAgoMs: Number(row.renewed_ago_ms),
    expiresInMs: Number(row.expires_in_ms),
    process: ownerProcessState(row.process_key),
  };
}

/**
 * Runs `fn` while holding the migration lock, and releases it afterwards whatever happens.
 * @example
 * await withMigrationLock(knex, { wait: false }, () => knex.migrate.latest());
 */
export async function withMigrationLock<T>(knex: Knex, options: MigrationLockOptions, fn: (held: HeldMigrationLock) => Promise<T>): Promise<T> {
  const held = await new MigrationLock(knex, options).acquire();
  try {
    return await fn(held);
  } finally {
    await held.release();
  }
}
