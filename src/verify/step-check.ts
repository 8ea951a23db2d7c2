/**
 * Checks statements against the schema the shadow database has at one step: each is prepared
 * (`PREPARE`: parsed, analysed and rewritten by the server against the catalog, never
 * executed), and an INSERT that prepares is also checked for columns it would leave NULL
 * against a NOT NULL (see `insert-columns.ts`). Everything runs on a connection of verify's own
 * to the shadow database: its prepared statements are deallocated after each step and end with
 * the session.
 */
import { findNotNullViolation } from './insert-columns.js';
import { RelationFactsCache, relationSql, type ShadowQuery } from './relation-facts.js';
import { prepareSql, type LoadedStatement } from './statements.js';

/** What a statement met at one step. */
export type StepOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** `error`: PostgreSQL refused to prepare it; `not-null`: an INSERT that would leave a required column NULL. */
      readonly kind: 'error' | 'not-null';
      readonly sqlState: string;
      readonly message: string;
      /** How knex-zd knows (for `not-null`). */
      readonly detail?: string;
    };

/** The client verify uses on the shadow database (node-postgres). */
export interface StepClient {
  query(sql: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

const OK: StepOutcome = Object.freeze({ ok: true });

/** Prepares statements on one shadow connection, step after step. */
export class StepChecker {
  private readonly facts: RelationFactsCache;
  private prepared = 0;

  constructor(
    private readonly client: StepClient,
    serverVersionNum: number,
  ) {
    const query: ShadowQuery = async (sql, values) => (await client.query(sql, [...values])).rows;
    this.facts = new RelationFactsCache(query, relationSql(serverVersionNum));
  }

  /** Checks one checkable statement at the shadow's current schema. */
  async check(statement: LoadedStatement): Promise<StepOutcome> {
    const name = `knex_zd_verify_${++this.prepared}`;
    try {
      await this.client.query(prepareSql(name, statement.sql));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { ok: false, kind: 'error', sqlState: typeof code === 'string' ? code : 'XX000', message: (error as Error).message };
    }
    for (const target of statement.inserts) {
      const relation = await this.facts.named(target.schema, target.table);
      if (!relation) continue;
      const violation = await findNotNullViolation(target, relation, (oid) => this.facts.byId(oid));
      if (violation) return { ok: false, kind: 'not-null', sqlState: violation.sqlState, message: violation.message, detail: violation.detail };
    }
    return OK;
  }

  /** Ends a step: the prepared statements are deallocated and the catalog is read afresh at the next. */
  async endStep(): Promise<void> {
    if (this.prepared > 0) await this.client.query('DEALLOCATE ALL');
    this.prepared = 0;
    this.facts.clear();
  }
}
