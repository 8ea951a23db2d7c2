import type { Knex } from 'knex';
import { QuorumError } from '../errors.js';
import { stateFromFields } from './state-fields.js';
import type { QuorumArrival, QuorumBackend, QuorumClaim, QuorumOutcome, QuorumState } from './types.js';

/** Options of {@link PostgresQuorumBackend}. */
export interface PostgresQuorumOptions {
  /** A knex instance on the target database (not destroyed by `close()`). */
  readonly knex: Knex;
  /** The coordination table, created when missing. @default 'knex_zd_quorum' */
  readonly tableName?: string;
  /** Its schema. @default the connection's search_path */
  readonly schemaName?: string;
  /** How long `connect()` waits for the database. @default 10000 */
  readonly connectTimeoutMs?: number;
}

/** The coordination table's default name. */
export const DEFAULT_QUORUM_TABLE = 'knex_zd_quorum';

interface Row {
  arrived: number;
  decision: string | null;
  decided_by: string | null;
  lease_alive: boolean | null;
  outcome: string | null;
  outcome_by: string | null;
  message: string | null;
}

/**
 * Quorum state in a table of the target database, so a team needs no other infrastructure.
 * Every step is one statement (row locks of `INSERT … ON CONFLICT` and `UPDATE … WHERE`),
 * never a session-level advisory lock, so it works through pgbouncer in transaction pooling.
 * Times come from the server's clock (`now()`), so deployers' clocks may disagree.
 */
export class PostgresQuorumBackend implements QuorumBackend {
  readonly name = 'postgres';
  readonly location: string;
  readonly #knex: Knex;
  readonly #table: string;
  readonly #schema: string | undefined;
  readonly #connectTimeoutMs: number;

  constructor(options: PostgresQuorumOptions) {
    this.#knex = options.knex;
    this.#table = options.tableName ?? DEFAULT_QUORUM_TABLE;
    this.#schema = options.schemaName;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.location = `table ${this.#schema ? `${this.#schema}.` : ''}${this.#table} of the target database`;
  }

  /** `??` binding of the table, schema-qualified when a schema is set. */
  #ref(): string {
    return this.#schema ? `${this.#schema}.${this.#table}` : this.#table;
  }

  async connect(): Promise<void> {
    try {
      await withTimeout(
        this.#ensureTable().then(() => this.#prune()),
        this.#connectTimeoutMs,
        'the database did not answer',
      );
    } catch (error) {
      throw new QuorumError(
        `Cannot use the PostgreSQL quorum backend (${this.location}): ${(error as Error).message}.\n` +
          `Nothing was applied. Check the knexfile's connection, and that the migration user may create ` +
          `the table, or create it beforehand (see PostgresQuorumBackend.createTableSql()).`,
        { cause: error, details: { backend: this.name, location: this.location } },
      );
    }
  }

  async #ensureTable(): Promise<void> {
    const regclass = this.#schema ? `${quoteIdent(this.#schema)}.${quoteIdent(this.#table)}` : quoteIdent(this.#table);
    const found = await this.#knex.raw<{ rows: { exists: string | null }[] }>('SELECT to_regclass(?) AS exists', [regclass]);
    if (found.rows[0]?.exists) return;
    // Concurrent CREATE TABLE IF NOT EXISTS can still fail on the catalog's unique index; a
    // transaction-scoped advisory lock (released at COMMIT, so pgbouncer-safe) serialises them.
    await this.#knex.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`knex-zero-downtime:${regclass}`]);
      await trx.raw(this.createTableSql());
    });
  }

  /** Deletes generations that nobody has touched for a week (the table is also the audit trail of recent deploys). */
  async #prune(): Promise<void> {
    await this.#knex.raw(`DELETE FROM ?? WHERE expires_at < now() - interval '7 days'`, [this.#ref()]);
  }

  /** The DDL of the coordination table, for teams that create it ahead of time. */
  createTableSql(): string {
    return this.#knex
      .raw(
        `CREATE TABLE IF NOT EXISTS ?? (
  namespace text NOT NULL,
  generation integer NOT NULL,
  arrived integer NOT NULL DEFAULT 0,
  decision text CHECK (decision IN ('applier', 'timeout')),
  decided_by text,
  lease_expires_at timestamptz,
  outcome text CHECK (outcome IN ('applied', 'failed', 'applier-lost', 'timeout')),
  outcome_by text,
  message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (namespace, generation)
)`,
        [this.#ref()],
      )
      .toQuery();
  }

  async arrive(namespace: string, ttlMs: number): Promise<QuorumArrival> {
    for (;;) {
      const latest = await this.#knex.raw<{ rows: { generation: number; settled: boolean; abandoned: boolean; decision: string | null }[] }>(
        `SELECT generation, outcome IS NOT NULL AS settled, decision,
                (outcome IS NULL AND expires_at < now()
                 AND (decision IS DISTINCT FROM 'applier' OR lease_expires_at < now())) AS abandoned
           FROM ?? WHERE namespace = ? ORDER BY generation DESC LIMIT 1`,
        [this.#ref(), namespace],
      );
      const row = latest.rows[0];
      let generation = 0;
      if (row !== undefined) {
        generation = row.generation;
        if (row.abandoned) {
          // Every deployer of that generation is gone (killed before anyone settled it): close it
          // so that this deploy does not inherit its count.
          await this.settle(
            namespace,
            generation,
            {
              kind: row.decision === 'applier' ? 'applier-lost' : 'timeout',
              by: 'knex-zero-downtime',
              message: 'abandoned: no deployer touched it before it expired',
            },
            ttlMs,
          );
          generation++;
        } else if (row.settled) {
          generation++;
        }
      }
      const counted = await this.#knex.raw<{ rows: { arrived: number }[] }>(
        `INSERT INTO ?? AS q (namespace, generation, arrived, expires_at)
         VALUES (?, ?, 1, now() + ?::double precision * interval '1 millisecond')
         ON CONFLICT (namespace, generation) DO UPDATE
            SET arrived = q.arrived + 1, expires_at = greatest(q.expires_at, excluded.expires_at), updated_at = now()
          WHERE q.outcome IS NULL
         RETURNING arrived`,
        [this.#ref(), namespace, generation, ttlMs],
      );
      // No row: the generation was settled between the two statements; arrive in the next one.
      const arrived = counted.rows[0]?.arrived;
      if (arrived !== undefined) return { generation, arrival: Number(arrived) };
    }
  }

  async read(namespace: string, generation: number): Promise<QuorumState> {
    const result = await this.#knex.raw<{ rows: Row[] }>(
      `SELECT arrived, decision, decided_by, lease_expires_at > now() AS lease_alive, outcome, outcome_by, message
         FROM ?? WHERE namespace = ? AND generation = ?`,
      [this.#ref(), namespace, generation],
    );
    const row = result.rows[0];
    if (row === undefined) return stateFromFields({}, false);
    return stateFromFields(
      {
        arrived: row.arrived,
        decision: row.decision,
        decidedBy: row.decided_by,
        outcome: row.outcome,
        outcomeBy: row.outcome_by,
        message: row.message,
      },
      row.lease_alive === true,
    );
  }

  async claim(namespace: string, generation: number, claim: QuorumClaim, ttlMs: number): Promise<boolean> {
    const who = claim.kind === 'applier' ? claim.applier : claim.by;
    const leaseMs = claim.kind === 'applier' ? claim.leaseMs : null;
    const result = await this.#knex.raw<{ rows: unknown[] }>(
      `UPDATE ?? SET decision = ?, decided_by = ?,
              lease_expires_at = now() + ?::double precision * interval '1 millisecond',
              expires_at = greatest(expires_at, now() + ?::double precision * interval '1 millisecond'), updated_at = now()
        WHERE namespace = ? AND generation = ? AND decision IS NULL AND outcome IS NULL
       RETURNING 1`,
      [this.#ref(), claim.kind, who, leaseMs, ttlMs, namespace, generation],
    );
    return result.rows.length === 1;
  }

  async renewLease(namespace: string, generation: number, applier: string, leaseMs: number, ttlMs: number): Promise<boolean> {
    const result = await this.#knex.raw<{ rows: unknown[] }>(
      `UPDATE ?? SET lease_expires_at = now() + ?::double precision * interval '1 millisecond',
              expires_at = greatest(expires_at, now() + ?::double precision * interval '1 millisecond'), updated_at = now()
        WHERE namespace = ? AND generation = ? AND decision = 'applier' AND decided_by = ? AND outcome IS NULL
       RETURNING 1`,
      [this.#ref(), leaseMs, ttlMs, namespace, generation, applier],
    );
    return result.rows.length === 1;
  }

  async settle(namespace: string, generation: number, outcome: QuorumOutcome, ttlMs: number): Promise<boolean> {
    const result = await this.#knex.raw<{ rows: unknown[] }>(
      `UPDATE ?? SET outcome = ?, outcome_by = ?, message = ?, lease_expires_at = NULL,
              expires_at = greatest(expires_at, now() + ?::double precision * interval '1 millisecond'), updated_at = now()
        WHERE namespace = ? AND generation = ? AND outcome IS NULL
       RETURNING 1`,
      [this.#ref(), outcome.kind, outcome.by, outcome.message, ttlMs, namespace, generation],
    );
    return result.rows.length === 1;
  }

  async close(): Promise<void> {
    // The knex instance belongs to the caller (it also runs the migrations).
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${message} within ${ms}ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
