/**
 * How the runner must send one SQL text outside a transaction, decided from PostgreSQL's
 * own parse tree (libpg-query), never from the text's look.
 */
import { parseStatements, type PgNode } from '../analysis/parser.js';

/**
 * - `'control'`: only transaction control (`BEGIN`, `COMMIT`, `SAVEPOINT`…): sent as is;
 * - `'transactional'`: can run in a transaction block: sent in one of the runner's own, with `SET LOCAL` timeouts;
 * - `'non-transactional'`: PostgreSQL refuses it in a transaction block (`CREATE INDEX CONCURRENTLY`, `VACUUM`…):
 *   its timeouts can only be session settings;
 * - `'own-transaction'`: transaction control mixed with other statements (`BEGIN; …; COMMIT`):
 *   cannot be wrapped either, so session settings too.
 */
export type StatementKind = 'control' | 'transactional' | 'non-transactional' | 'own-transaction';

/** A `CREATE INDEX CONCURRENTLY`, as the runner needs it to tell its leftover from a user's index. */
export interface ConcurrentBuild {
  /** The table's schema as written, or `null` (the search path decides). */
  readonly schema: string | null;
  readonly table: string;
  /** The index name as written, or `null` (PostgreSQL picks one). */
  readonly name: string | null;
  readonly ifNotExists: boolean;
}

/** What the runner knows of one SQL text. */
export interface RunnerStatement {
  readonly kind: StatementKind;
  /** A short name of the statement that decided the kind, for messages (e.g. `'CREATE INDEX CONCURRENTLY'`). */
  readonly summary: string;
  /**
   * False when every statement is long by nature and holds only locks that let reads and
   * writes through (concurrent index builds and drops, `VALIDATE CONSTRAINT`): it runs with
   * `statement_timeout` 0, as the operations' steps do.
   */
  readonly statementTimeout: boolean;
  /** Set when the text is exactly one `CREATE INDEX CONCURRENTLY`. */
  readonly concurrentBuild: ConcurrentBuild | null;
  /** True when the text contains `ALTER TYPE … ADD VALUE`, which PostgreSQL before 12 refuses in a transaction block. */
  readonly addsEnumValue: boolean;
}

interface Verdict {
  readonly transactional: boolean;
  readonly summary: string;
  readonly exempt: boolean;
}

function hasParam(body: PgNode, name: string): boolean {
  return ((body.params ?? []) as PgNode[]).some((param) => String(param.DefElem?.defname ?? '').toLowerCase() === name);
}

/** Whether PostgreSQL accepts the statement in a transaction block (PreventInTransactionBlock's callers). */
function verdictOf(node: PgNode): Verdict {
  const [type] = Object.keys(node);
  const body = node[type] as PgNode;
  switch (type) {
    case 'IndexStmt':
      return body.concurrent
        ? { transactional: false, summary: 'CREATE INDEX CONCURRENTLY', exempt: true }
        : { transactional: true, summary: 'CREATE INDEX', exempt: false };
    case 'DropStmt':
      return body.concurrent
        ? { transactional: false, summary: 'DROP INDEX CONCURRENTLY', exempt: true }
        : { transactional: true, summary: 'DROP', exempt: false };
    case 'ReindexStmt': {
      const concurrent = hasParam(body, 'concurrently');
      // REINDEX SCHEMA/DATABASE/SYSTEM commit table by table.
      const many = !body.relation;
      return { transactional: !concurrent && !many, summary: `REINDEX${concurrent ? ' CONCURRENTLY' : ''}`, exempt: concurrent };
    }
    case 'VacuumStmt':
      return body.is_vacuumcmd
        ? { transactional: false, summary: 'VACUUM', exempt: false }
        : { transactional: true, summary: 'ANALYZE', exempt: false };
    case 'ClusterStmt':
      return { transactional: Boolean(body.relation), summary: 'CLUSTER', exempt: false };
    case 'AlterTableStmt': {
      const cmds = ((body.cmds ?? []) as PgNode[]).map((cmd) => (cmd.AlterTableCmd ?? {}) as PgNode);
      const detach = cmds.some((cmd) => cmd.subtype === 'AT_DetachPartition' && cmd.def?.PartitionCmd?.concurrent);
      if (detach) return { transactional: false, summary: 'DETACH PARTITION CONCURRENTLY', exempt: false };
      const validateOnly = cmds.length > 0 && cmds.every((cmd) => cmd.subtype === 'AT_ValidateConstraint');
      return { transactional: true, summary: validateOnly ? 'VALIDATE CONSTRAINT' : 'ALTER TABLE', exempt: validateOnly };
    }
    case 'CreatedbStmt':
      return { transactional: false, summary: 'CREATE DATABASE', exempt: false };
    case 'DropdbStmt':
      return { transactional: false, summary: 'DROP DATABASE', exempt: false };
    case 'CreateTableSpaceStmt':
      return { transactional: false, summary: 'CREATE TABLESPACE', exempt: false };
    case 'DropTableSpaceStmt':
      return { transactional: false, summary: 'DROP TABLESPACE', exempt: false };
    case 'AlterSystemStmt':
      return { transactional: false, summary: 'ALTER SYSTEM', exempt: false };
    case 'CreateSubscriptionStmt':
      return { transactional: false, summary: 'CREATE SUBSCRIPTION', exempt: false };
    case 'DropSubscriptionStmt':
      return { transactional: false, summary: 'DROP SUBSCRIPTION', exempt: false };
    case 'DiscardStmt':
      return { transactional: body.target !== 'DISCARD_ALL', summary: 'DISCARD', exempt: false };
    case 'AlterEnumStmt':
      return { transactional: true, summary: 'ALTER TYPE … ADD VALUE', exempt: false };
    default:
      return { transactional: true, summary: type.replace(/Stmt$/, ''), exempt: false };
  }
}

function concurrentBuildOf(node: PgNode): ConcurrentBuild | null {
  const body = node.IndexStmt as PgNode | undefined;
  if (!body?.concurrent || !body.relation) return null;
  return {
    schema: typeof body.relation.schemaname === 'string' ? body.relation.schemaname : null,
    table: String(body.relation.relname),
    name: typeof body.idxname === 'string' ? body.idxname : null,
    ifNotExists: body.if_not_exists === true,
  };
}

/**
 * How the runner sends `sql` (the parser must be loaded). A text the parser refuses is
 * `'transactional'`: it is wrapped, and the server reports the error itself.
 */
export function runnerStatement(sql: string): RunnerStatement {
  const parsed = parseStatements(sql);
  const nodes: PgNode[] = [];
  for (const statement of parsed) {
    if (!statement.ok) return { kind: 'transactional', summary: 'statement', statementTimeout: true, concurrentBuild: null, addsEnumValue: false };
    nodes.push(statement.node);
  }
  const control = nodes.filter((node) => 'TransactionStmt' in node);
  const others = nodes.filter((node) => !('TransactionStmt' in node));
  const addsEnumValue = others.some((node) => 'AlterEnumStmt' in node);
  if (others.length === 0) {
    return { kind: 'control', summary: 'transaction control', statementTimeout: true, concurrentBuild: null, addsEnumValue };
  }
  const verdicts = others.map(verdictOf);
  const refused = verdicts.find((v) => !v.transactional);
  const statementTimeout = !verdicts.every((v) => v.exempt);
  if (control.length > 0) {
    return { kind: 'own-transaction', summary: 'transaction control (BEGIN … COMMIT)', statementTimeout, concurrentBuild: null, addsEnumValue };
  }
  return {
    kind: refused ? 'non-transactional' : 'transactional',
    summary: (refused ?? verdicts[0]).summary,
    statementTimeout,
    concurrentBuild: nodes.length === 1 ? concurrentBuildOf(nodes[0]) : null,
    addsEnumValue,
  };
}
