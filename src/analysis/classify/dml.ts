/** INSERT, UPDATE, DELETE, MERGE, SELECT and COPY: the locks a query takes on what it reads and writes. */
import type { TableName } from '../findings.js';
import type { PgNode } from '../parser.js';
import type { LockMode } from '../types.js';
import { tableOf } from './names.js';
import type { StatementBuilder } from './statement.js';

export const DML_TARGETS: Readonly<Record<string, true>> = { InsertStmt: true, UpdateStmt: true, DeleteStmt: true, MergeStmt: true };

export function classifyDml(statement: StatementBuilder, body: PgNode, verb: string): void {
  statement.summary = verb;
  queryLocks(statement, { [statement.kind]: body });
  const lock = statement.locks.strongest().lock;
  statement.action(verb, null, lock);
  if (body.relation) {
    const table = tableOf(body.relation);
    statement.object(table, null, 'reference');
    if (verb !== 'SELECT') statement.input.model?.markWritten(table);
    const columns =
      verb === 'INSERT' || verb === 'UPDATE'
        ? ((verb === 'INSERT' ? body.cols : body.targetList) ?? []).map((target: PgNode) => String(target.ResTarget?.name ?? ''))
        : [];
    for (const column of columns) if (column) statement.object(table, column, 'reference');
  }
}

export function classifyCopy(statement: StatementBuilder, body: PgNode): void {
  const from = Boolean(body.is_from);
  statement.summary = from ? 'COPY FROM' : 'COPY TO';
  if (body.relation) {
    const table = tableOf(body.relation);
    statement.lock(table.display, from ? 'ROW EXCLUSIVE' : 'ACCESS SHARE');
    statement.object(table, null, 'reference');
  }
  if (body.query) queryLocks(statement, body.query);
  statement.action(statement.summary, null, statement.locks.strongest().lock);
}

/**
 * Locks a query takes: ACCESS SHARE on what it reads, ROW SHARE on `FOR UPDATE/SHARE`
 * targets, ROW EXCLUSIVE on INSERT/UPDATE/DELETE/MERGE targets (CTEs included).
 */
export function queryLocks(statement: StatementBuilder, query: unknown): void {
  const found: { table: TableName; mode: LockMode }[] = [];
  const cteNames = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const node = value as PgNode;
    for (const [key, child] of Object.entries(node)) {
      if (key === 'RangeVar') {
        found.push({ table: tableOf(child as PgNode), mode: 'ACCESS SHARE' });
      } else if (DML_TARGETS[key] && (child as PgNode).relation) {
        found.push({ table: tableOf((child as PgNode).relation), mode: 'ROW EXCLUSIVE' });
      } else if (key === 'SelectStmt' && (child as PgNode).lockingClause) {
        lockingClauseTargets(child as PgNode, found);
      } else if (key === 'CommonTableExpr' && typeof (child as PgNode).ctename === 'string') {
        cteNames.add((child as PgNode).ctename as string);
      }
      visit(child);
    }
  };
  visit(query);
  for (const { table, mode } of found) {
    if (table.schema === null && cteNames.has(table.table)) continue;
    statement.lock(table.display, mode);
  }
}

export function lockingClauseTargets(select: PgNode, found: { table: TableName; mode: LockMode }[]): void {
  for (const entry of (select.lockingClause ?? []) as PgNode[]) {
    const named = ((entry.LockingClause?.lockedRels ?? []) as PgNode[]).map((rel) => tableOf(rel.RangeVar));
    const targets = named.length > 0 ? named : fromClauseTables(select.fromClause);
    for (const table of targets) found.push({ table, mode: 'ROW SHARE' });
  }
}

export function fromClauseTables(from: unknown, out: TableName[] = []): TableName[] {
  if (Array.isArray(from)) {
    for (const item of from) fromClauseTables(item, out);
  } else if (from !== null && typeof from === 'object') {
    const node = from as PgNode;
    if (node.RangeVar) out.push(tableOf(node.RangeVar));
    else if (node.JoinExpr) {
      fromClauseTables(node.JoinExpr.larg, out);
      fromClauseTables(node.JoinExpr.rarg, out);
    }
  }
  return out;
}
