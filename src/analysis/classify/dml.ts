/** INSERT, UPDATE, DELETE, MERGE, SELECT and COPY: the locks a query takes on what it reads and writes. */
import { wholeTableChange } from '../findings.js';
import type { TableName } from '../findings.js';
import { walkParseTree, type PgNode } from '../parser.js';
import type { LockMode } from '../types.js';
import { tableOf } from './names.js';
import { splitTopLevel, topLevelWords } from './source-text.js';
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
    if ((verb === 'UPDATE' || verb === 'DELETE') && !statement.input.isNewTable(table) && !boundsRows(body)) {
      statement.finding(wholeTableChange({ verb, table, ...changeText(statement, body) }));
    }
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
  walkParseTree(query, (key, child) => {
    const node = child as PgNode;
    if (key === 'RangeVar') {
      found.push({ table: tableOf(node), mode: 'ACCESS SHARE' });
    } else if (DML_TARGETS[key] && node.relation) {
      found.push({ table: tableOf(node.relation), mode: 'ROW EXCLUSIVE' });
    } else if (key === 'SelectStmt' && node.lockingClause) {
      lockingClauseTargets(node, found);
    } else if (key === 'CommonTableExpr' && typeof node.ctename === 'string') {
      cteNames.add(node.ctename);
    }
    return undefined;
  });
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

/**
 * True when an UPDATE/DELETE's WHERE provably bounds the rows it changes, by its shape alone
 * (how many rows a predicate matches is unknown without the data). One top-level AND-ed
 * condition must be: a column equal to a constant, `IN (constants)`, `= ANY(constants)`, a
 * `BETWEEN` of constants, a column closed on both sides by constants (`>`/`>=` and `<`/`<=`), or
 * a column `IN (subquery … LIMIT n)` / `= ANY (ARRAY(subquery … LIMIT n))`; or the statement joins (FROM/USING) a WITH query that has a
 * LIMIT (a batch). No WHERE, `IS NULL`, `<>`, a one-sided range, an OR at the top, a join on
 * columns: the whole table, as far as the statement says.
 */
export function boundsRows(body: PgNode): boolean {
  if (limitedCteJoined(body)) return true;
  const where = body.whereClause as PgNode | undefined;
  if (!where) return false;
  const conjuncts = where.BoolExpr?.boolop === 'AND_EXPR' ? ((where.BoolExpr.args ?? []) as PgNode[]) : [where];
  const lower = new Set<string>();
  const upper = new Set<string>();
  for (const conjunct of conjuncts) {
    const expr = conjunct.A_Expr as PgNode | undefined;
    if (expr) {
      const column = columnName(expr.lexpr);
      const op = String(expr.name?.[0]?.String?.sval ?? '');
      if (column !== null) {
        if (expr.kind === 'AEXPR_OP' && op === '=' && isConstant(expr.rexpr)) return true;
        if (expr.kind === 'AEXPR_IN' && op === '=' && ((expr.rexpr?.List?.items ?? []) as PgNode[]).every(isConstant)) return true;
        if (expr.kind === 'AEXPR_OP_ANY' && op === '=' && (isConstant(expr.rexpr) || isLimitedArray(expr.rexpr))) return true;
        if (expr.kind === 'AEXPR_BETWEEN' && ((expr.rexpr?.List?.items ?? []) as PgNode[]).every(isConstant)) return true;
        if (expr.kind === 'AEXPR_OP' && isConstant(expr.rexpr)) {
          if (op === '>' || op === '>=') lower.add(column);
          if (op === '<' || op === '<=') upper.add(column);
        }
      } else if (expr.kind === 'AEXPR_OP' && op === '=' && isConstant(expr.lexpr) && columnName(expr.rexpr) !== null) {
        return true;
      }
    }
    const link = conjunct.SubLink as PgNode | undefined;
    if (link?.subLinkType === 'ANY_SUBLINK' && columnName(link.testexpr) !== null && link.subselect?.SelectStmt?.limitCount) return true;
  }
  return [...lower].some((column) => upper.has(column));
}

function columnName(node: PgNode | undefined): string | null {
  const last = (node?.ColumnRef?.fields as PgNode[] | undefined)?.at(-1);
  return last?.String?.sval ? String(last.String.sval) : null;
}

function isConstant(node: PgNode | undefined): boolean {
  if (!node) return false;
  if (node.A_Const || node.ParamRef) return true;
  if (node.TypeCast) return isConstant(node.TypeCast.arg as PgNode);
  if (node.A_ArrayExpr) return ((node.A_ArrayExpr.elements ?? []) as PgNode[]).every(isConstant);
  if (node.A_Expr?.kind === 'AEXPR_OP' && !node.A_Expr.lexpr) return isConstant(node.A_Expr.rexpr as PgNode);
  return false;
}

/** `ARRAY(SELECT … LIMIT n)`: a batch. */
function isLimitedArray(node: PgNode | undefined): boolean {
  return node?.SubLink?.subLinkType === 'ARRAY_SUBLINK' && Boolean(node.SubLink.subselect?.SelectStmt?.limitCount);
}

function limitedCteJoined(body: PgNode): boolean {
  const limited = new Set(
    ((body.withClause?.ctes ?? []) as PgNode[])
      .map((entry) => entry.CommonTableExpr as PgNode | undefined)
      .filter((cte) => cte?.ctequery?.SelectStmt?.limitCount)
      .map((cte) => String(cte!.ctename)),
  );
  if (limited.size === 0) return false;
  return fromClauseTables([...((body.fromClause ?? []) as PgNode[]), ...((body.usingClause ?? []) as PgNode[])]).some(
    (table) => table.schema === null && limited.has(table.table),
  );
}

/** The SET list (`column → expression text`) and the WHERE text of an UPDATE/DELETE, for the hint. */
function changeText(statement: StatementBuilder, body: PgNode): { set: [string, string][]; where: string | null } {
  const start = ((body.targetList ?? []) as PgNode[])[0]?.ResTarget?.location ?? body.relation?.location;
  const text = statement.textFrom(start as number | undefined).replace(/;\s*$/, '');
  const stops = topLevelWords(text, ['from', 'where', 'returning', 'using']);
  const set: [string, string][] = [];
  if (body.targetList && !((body.targetList as PgNode[]).some((target) => target.ResTarget?.val?.MultiAssignRef))) {
    const end = stops.find((stop) => stop.word !== 'using')?.index ?? text.length;
    for (const part of splitTopLevel(text.slice(0, end))) {
      const eq = part.indexOf('=');
      if (eq < 0) return { set: [], where: null };
      set.push([part.slice(0, eq).trim().replace(/^"(.*)"$/, '$1').replace(/""/g, '"'), part.slice(eq + 1).trim()]);
    }
  }
  const where = stops.find((stop) => stop.word === 'where');
  if (!where || !body.whereClause) return { set, where: null };
  const returning = stops.find((stop) => stop.word === 'returning' && stop.index > where.index);
  return { set, where: text.slice(where.index + 'where'.length, returning?.index ?? text.length).trim() };
}
