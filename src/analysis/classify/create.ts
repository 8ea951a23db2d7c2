/** CREATE TABLE / TABLE AS / VIEW / INDEX / TRIGGER / STATISTICS, and statements that lock one relation to add to it. */
import type { Stage } from '../../stages.js';
import { isSerial } from '../column-types.js';
import { createIndexBlocking } from '../findings.js';
import { walkParseTree, type PgNode } from '../parser.js';
import type { LockMode } from '../types.js';
import { columnFacts, constrainedColumns, foreignKeyReference, modelColumn, rememberConstraint } from './alter-table.js';
import { queryLocks } from './dml.js';
import { columnRefs, tableOf } from './names.js';
import { parenGroup, splitTopLevel } from './source-text.js';
import type { StatementBuilder } from './statement.js';
import type { SchemaModel } from '../catalog/schema-model.js';

export function classifyCreateTable(statement: StatementBuilder, body: PgNode, summary: string): void {
  const table = tableOf(body.relation);
  statement.summary = summary;
  statement.action(summary, 'pre-deploy', null);
  statement.object(table, null, 'create');
  statement.input.addTable(table);
  const model = statement.input.model;
  // IF NOT EXISTS on an existing table changes nothing: the model keeps what it knew.
  const creates = !(body.if_not_exists && model?.relation(table));
  const inherits = ((body.inhRelations ?? []) as PgNode[]).length > 0 || Boolean(body.partbound) || ((body.tableElts ?? []) as PgNode[]).some((e) => e.TableLikeClause);
  if (creates) model?.createRelation(table, body.partspec ? 'p' : 'r', !inherits);
  for (const element of (body.tableElts ?? []) as PgNode[]) {
    if (element.ColumnDef) {
      const definition = element.ColumnDef as PgNode;
      const column = String(definition.colname ?? '');
      statement.object(table, column, 'create');
      const facts = columnFacts(definition);
      statement.input.addColumn(table, column, facts.type && !isSerial(facts.type) ? facts.type : null);
      if (creates) model?.setColumn(table, column, modelColumn(statement, facts));
      for (const constraint of facts.constraints) {
        if (constraint.contype === 'CONSTR_FOREIGN') foreignKeyReference(statement, constraint, table, [column]);
        if (creates) rememberConstraint(statement, table, constraint, [column]);
      }
    } else if (element.Constraint) {
      const constraint = element.Constraint as PgNode;
      if (constraint.contype === 'CONSTR_FOREIGN') foreignKeyReference(statement, constraint, table, constrainedColumns(constraint));
      if (creates) rememberConstraint(statement, table, constraint, constrainedColumns(constraint));
    } else if (element.TableLikeClause) {
      const source = tableOf(element.TableLikeClause.relation);
      statement.lock(source.display, 'ACCESS SHARE');
      statement.object(source, null, 'reference');
    }
  }
  for (const parentNode of (body.inhRelations ?? []) as PgNode[]) {
    const parent = tableOf(parentNode.RangeVar);
    // PARTITION OF locks the parent out entirely; plain INHERITS only blocks its schema changes.
    statement.lock(parent.display, body.partbound ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE');
    statement.object(parent, null, body.partbound ? 'alter' : 'reference');
  }
}

export function classifyCreateTableAs(statement: StatementBuilder, body: PgNode): void {
  const materialized = body.objtype === 'OBJECT_MATVIEW';
  const table = tableOf(body.into?.rel);
  statement.summary = materialized ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE AS';
  statement.action(statement.summary, 'pre-deploy', null);
  statement.object(table, null, 'create');
  statement.input.addTable(table);
  if (!(body.if_not_exists && statement.input.model?.relation(table))) statement.input.model?.createRelation(table, materialized ? 'm' : 'r', false);
  queryLocks(statement, body.query);
}

export function classifyCreateView(statement: StatementBuilder, body: PgNode): void {
  const view = tableOf(body.view);
  const replace = Boolean(body.replace);
  statement.summary = replace ? 'CREATE OR REPLACE VIEW' : 'CREATE VIEW';
  statement.action(statement.summary, 'pre-deploy', replace ? 'ACCESS EXCLUSIVE' : null);
  queryLocks(statement, body.query);
  if (replace) statement.lock(view.display, 'ACCESS EXCLUSIVE');
  statement.object(view, null, replace ? 'alter' : 'create');
  const model = statement.input.model;
  model?.createRelation(view, 'v', false, model ? readsOf(model, body.query) : [], model ? expandedView(model, body.query) : null);
}

/**
 * The query of a view that passes columns of one relation through (`SELECT *, "a" AS "b" FROM t`),
 * with `*` expanded from the model, as `pg_get_viewdef` prints it; `null` for anything else.
 */
function expandedView(model: SchemaModel, query: PgNode | undefined): string | null {
  const select = query?.SelectStmt as PgNode | undefined;
  const from = select?.fromClause as PgNode[] | undefined;
  const range = from?.length === 1 ? (from[0].RangeVar as PgNode | undefined) : undefined;
  if (!select || !range || typeof range.relname !== 'string') return null;
  const source = model.relation(tableOf(range));
  if (!source?.columnsKnown) return null;
  const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const targets: string[] = [];
  for (const target of (select.targetList ?? []) as PgNode[]) {
    const res = target.ResTarget as PgNode;
    const fields = (res.val?.ColumnRef?.fields ?? []) as PgNode[];
    if (fields.length === 1 && fields[0].A_Star) {
      for (const column of source.columns.keys()) targets.push(quote(column));
    } else if (fields.length >= 1 && fields.at(-1)?.String?.sval) {
      const column = String(fields.at(-1)?.String?.sval);
      targets.push(typeof res.name === 'string' && res.name !== column ? `${quote(column)} AS ${quote(res.name)}` : quote(column));
    } else {
      return null;
    }
  }
  return `SELECT ${targets.join(', ')} FROM ${quote(range.relname)}`;
}

export function classifyCreateIndex(statement: StatementBuilder, body: PgNode): void {
  const table = tableOf(body.relation);
  const concurrent = Boolean(body.concurrent);
  const unique = Boolean(body.unique);
  const isNew = statement.input.isNewTable(table);
  const lock: LockMode = concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE';
  statement.summary = `CREATE${unique ? ' UNIQUE' : ''} INDEX${concurrent ? ' CONCURRENTLY' : ''}`;
  const params = (body.indexParams ?? []) as PgNode[];
  const keyColumns = params.flatMap((param) => {
    const element = (param.IndexElem ?? {}) as PgNode;
    return element.name ? [String(element.name)] : columnRefs(element.expr);
  });
  // A unique index refuses duplicates exactly like a UNIQUE constraint (tightening),
  // unless old code cannot write its columns because they were only just added.
  const onNewColumns = keyColumns.length > 0 && keyColumns.every((column) => statement.input.isNewColumn(table, column));
  const stage: Stage | null = isNew ? null : unique && !onNewColumns ? 'post-deploy' : 'pre-deploy';
  statement.action(statement.summary, stage, lock, false, true);
  statement.lock(table.display, lock);
  if (concurrent) statement.transactional = false;
  const name = typeof body.idxname === 'string' ? body.idxname : null;
  if (name) statement.input.addIndex(name);
  const model = statement.input.model;
  if (model && !(body.if_not_exists && name && model.index({ schema: table.schema, table: name }))) {
    const elements = params.map((param) => {
      const element = (param.IndexElem ?? {}) as PgNode;
      return element.name ? String(element.name) : null;
    });
    const indexName = name ?? `${table.table}_${elements.map((e) => e ?? 'expr').join('_')}_idx`;
    model.createIndex(table.schema, indexName, table, { columns: elements, unique, primary: false, valid: true, partial: Boolean(body.whereClause), definition: statement.sql });
  }

  statement.object(table, null, 'reference');
  for (const param of [...params, ...((body.indexIncludingParams ?? []) as PgNode[])]) {
    const element = (param.IndexElem ?? {}) as PgNode;
    const columns = element.name ? [String(element.name)] : columnRefs(element.expr);
    for (const column of columns) statement.object(table, column, 'reference');
  }
  for (const column of columnRefs(body.whereClause)) statement.object(table, column, 'reference');

  if (concurrent || isNew) return;
  const { columns, where } = indexColumnsText(statement, body, params);
  statement.finding(createIndexBlocking({ table, columns, name, unique, where }));
}

/** The index's columns as the hint writes them: bare names, else each element's SQL text. */
export function indexColumnsText(statement: StatementBuilder, body: PgNode, params: PgNode[]): { columns: string[]; where: string | null } {
  const text = statement.textFrom(body.relation?.location);
  const group = parenGroup(text);
  const texts = group ? splitTopLevel(group.inner) : [];
  const columns = params.map((param, index) => {
    const element = (param.IndexElem ?? {}) as PgNode;
    const plain = element.name && !element.opclass && element.ordering === 'SORTBY_DEFAULT' && element.nulls_ordering === 'SORTBY_NULLS_DEFAULT' && !element.collation;
    return plain ? String(element.name) : (texts[index] ?? String(element.name ?? ''));
  });
  let where: string | null = null;
  if (body.whereClause && group) {
    const match = /\bwhere\b/i.exec(text.slice(group.end));
    if (match) where = text.slice(group.end + match.index + match[0].length).trim().replace(/;$/, '').trim();
  }
  return { columns, where };
}

export function classifyCreateTrigger(statement: StatementBuilder, body: PgNode): void {
  const table = tableOf(body.relation);
  statement.summary = body.isconstraint ? 'CREATE CONSTRAINT TRIGGER' : 'CREATE TRIGGER';
  const stage: Stage | null = statement.input.isNewTable(table) ? null : 'pre-deploy';
  statement.action(statement.summary, stage, 'SHARE ROW EXCLUSIVE');
  statement.lock(table.display, 'SHARE ROW EXCLUSIVE');
  statement.object(table, null, 'reference');
}

export function classifyCreateStatistics(statement: StatementBuilder, body: PgNode): void {
  statement.summary = 'CREATE STATISTICS';
  statement.action('CREATE STATISTICS', 'pre-deploy', 'SHARE UPDATE EXCLUSIVE');
  for (const entry of (body.relations ?? []) as PgNode[]) {
    const table = tableOf(entry.RangeVar);
    statement.lock(table.display, 'SHARE UPDATE EXCLUSIVE');
    statement.object(table, null, 'reference');
  }
}

export function relationLevelCreate(statement: StatementBuilder, rangeVar: PgNode | undefined, summary: string, lock: LockMode): void {
  const table = tableOf(rangeVar);
  statement.summary = summary;
  statement.action(summary, statement.input.isNewTable(table) ? null : 'pre-deploy', lock);
  statement.lock(table.display, lock);
  statement.object(table, null, 'reference');
}

export function relationLevelNeutral(statement: StatementBuilder, rangeVar: PgNode | undefined, summary: string, lock: LockMode): void {
  const table = tableOf(rangeVar);
  statement.summary = summary;
  statement.action(summary, null, lock);
  statement.lock(table.display, lock);
  statement.object(table, null, 'alter');
}

/** Keys of the relations a view's query reads (its RangeVars, resolved by the model). */
function readsOf(model: SchemaModel, query: unknown): string[] {
  const out = new Set<string>();
  walkParseTree(query, (key, child) => {
    if (key !== 'RangeVar') return undefined;
    const resolved = model.resolve(tableOf(child as PgNode));
    if (resolved) out.add(resolved);
    return 'skip';
  });
  return [...out];
}
