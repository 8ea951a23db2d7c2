/** VACUUM, CLUSTER, REINDEX, REFRESH MATERIALIZED VIEW, LOCK, COMMENT and ALTER DOMAIN. */
import type { Stage } from '../../stages.js';
import { domainConstraintValidating, lockTable, refreshBlocking, reindexBlocking, tableRewrite } from '../findings.js';
import type { TableName } from '../findings.js';
import { lockModeFromNumber } from '../lock-rules.js';
import type { PgNode } from '../parser.js';
import type { LockMode } from '../types.js';
import { RELATION_KINDS, TABLE_CHILD_KINDS, namesOf, tableFromNames, tableOf } from './names.js';
import { parenGroup } from './source-text.js';
import type { StatementBuilder } from './statement.js';

export const MAINTENANCE_HINT = '// Rebuild the table online with pg_repack (or pg_squeeze) instead, outside the migration.';

export function classifyVacuum(statement: StatementBuilder, body: PgNode): void {
  const options = new Set(((body.options ?? []) as PgNode[]).map((option) => String(option.DefElem?.defname ?? '').toLowerCase()));
  const relations = ((body.rels ?? []) as PgNode[]).map((entry) => tableOf(entry.VacuumRelation?.relation));
  if (!body.is_vacuumcmd) {
    statement.summary = 'ANALYZE';
    statement.action('ANALYZE', null, 'SHARE UPDATE EXCLUSIVE');
    for (const table of relations) statement.lock(table.display, 'SHARE UPDATE EXCLUSIVE');
    return;
  }
  const full = options.has('full');
  const lock: LockMode = full ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE';
  statement.summary = full ? 'VACUUM FULL' : 'VACUUM';
  statement.transactional = false;
  statement.action(statement.summary, null, lock, full);
  for (const table of relations) statement.lock(table.display, lock);
  if (full) {
    const relation = relations.length === 1 ? relations[0].display : null;
    statement.finding(tableRewrite({ relation, what: 'VACUUM FULL', hint: MAINTENANCE_HINT }));
  }
}

export function classifyCluster(statement: StatementBuilder, body: PgNode): void {
  statement.summary = 'CLUSTER';
  statement.action('CLUSTER', null, 'ACCESS EXCLUSIVE', true);
  const table = body.relation ? tableOf(body.relation) : null;
  if (table) statement.lock(table.display, 'ACCESS EXCLUSIVE');
  else statement.transactional = false; // CLUSTER of every table cannot run in a transaction block
  statement.finding(tableRewrite({ relation: table?.display ?? null, what: 'CLUSTER', hint: MAINTENANCE_HINT }));
}

export function classifyReindex(statement: StatementBuilder, body: PgNode): void {
  const concurrent = ((body.params ?? []) as PgNode[]).some((param) => String(param.DefElem?.defname ?? '').toLowerCase() === 'concurrently');
  const kind = String(body.kind);
  const lock: LockMode = concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
  const word = kind.replace(/^REINDEX_OBJECT_/, '');
  statement.summary = `REINDEX ${word}${concurrent ? ' CONCURRENTLY' : ''}`;
  statement.action(statement.summary, null, lock);
  if (body.relation) statement.lock(tableOf(body.relation).display, lock);
  else if (typeof body.name === 'string') statement.lock(body.name, lock);
  // REINDEX SCHEMA/DATABASE/SYSTEM commit per table, like anything CONCURRENTLY.
  if (concurrent || !body.relation) statement.transactional = false;
  if (concurrent) return;
  const relation = body.relation ? tableOf(body.relation) : null;
  if (relation && (kind === 'REINDEX_OBJECT_INDEX' ? statement.input.isNewIndex(relation.table) : statement.input.isNewTable(relation))) return;
  const target = relation ? quoteTable(relation) : typeof body.name === 'string' ? quoteName(body.name) : '';
  statement.finding(reindexBlocking({ kind: word, target }));
}

export function classifyRefresh(statement: StatementBuilder, body: PgNode): void {
  const concurrent = Boolean(body.concurrent);
  const lock: LockMode = concurrent ? 'EXCLUSIVE' : 'ACCESS EXCLUSIVE';
  const view = tableOf(body.relation);
  statement.summary = `REFRESH MATERIALIZED VIEW${concurrent ? ' CONCURRENTLY' : ''}`;
  statement.action(statement.summary, null, lock);
  statement.lock(view.display, lock);
  statement.object(view, null, 'reference');
  if (!concurrent && !statement.input.isNewTable(view)) statement.finding(refreshBlocking({ view }));
}

export function classifyLock(statement: StatementBuilder, body: PgNode): void {
  const mode = lockModeFromNumber(body.mode as number | undefined);
  statement.summary = `LOCK TABLE IN ${mode} MODE`;
  statement.action('LOCK TABLE', null, mode);
  const tables = ((body.relations ?? []) as PgNode[]).map((entry) => tableOf(entry.RangeVar));
  for (const table of tables) statement.lock(table.display, mode);
  const existing = tables.filter((table) => !statement.input.isNewTable(table));
  if (WRITE_BLOCKING.has(mode) && existing.length > 0) statement.finding(lockTable({ tables: existing, mode }));
}

/** Lock modes that conflict with ROW EXCLUSIVE, the lock of every INSERT, UPDATE and DELETE. */
const WRITE_BLOCKING: ReadonlySet<LockMode> = new Set<LockMode>(['SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE']);

export function classifyComment(statement: StatementBuilder, body: PgNode): void {
  const kind = String(body.objtype);
  statement.summary = `COMMENT ON ${kind.replace(/^OBJECT_/, '').replace(/_/g, ' ')}`;
  const names = namesOf(body.object);
  let table: TableName | null = null;
  if (RELATION_KINDS.has(kind) || kind === 'OBJECT_INDEX') table = tableFromNames(names);
  else if (kind === 'OBJECT_COLUMN' || kind === 'OBJECT_TABCONSTRAINT' || TABLE_CHILD_KINDS.has(kind)) table = tableFromNames(names.slice(0, -1));
  statement.action(statement.summary, null, table ? 'SHARE UPDATE EXCLUSIVE' : null);
  if (table) statement.lock(table.display, 'SHARE UPDATE EXCLUSIVE');
}

export function classifyAlterDomain(statement: StatementBuilder, body: PgNode): void {
  const subtype = String(body.subtype);
  const validates = !body.def?.Constraint?.skip_validation;
  const rules: Readonly<Record<string, [string, Stage | null, boolean]>> = {
    T: [body.def ? 'ALTER DOMAIN SET DEFAULT' : 'ALTER DOMAIN DROP DEFAULT', body.def ? 'pre-deploy' : 'post-deploy', false],
    N: ['ALTER DOMAIN DROP NOT NULL', 'pre-deploy', false],
    O: ['ALTER DOMAIN SET NOT NULL', 'post-deploy', true],
    C: ['ALTER DOMAIN ADD CONSTRAINT', 'post-deploy', validates],
    X: ['ALTER DOMAIN DROP CONSTRAINT', 'pre-deploy', false],
    V: ['ALTER DOMAIN VALIDATE CONSTRAINT', null, true],
  };
  const rule = rules[subtype];
  if (!rule) {
    statement.summary = 'ALTER DOMAIN';
    statement.unclassified(`ALTER DOMAIN subcommand ${subtype}`);
    return;
  }
  statement.summary = rule[0];
  statement.action(rule[0], rule[1], null, false, rule[2]);
  // Adding a constraint (or NOT NULL) checks every column of the domain, with a SHARE lock on each table.
  if ((subtype === 'C' && validates) || subtype === 'O') {
    const domain = namesOf(body.typeName as PgNode);
    const constraint = (body.def?.Constraint ?? null) as PgNode | null;
    let check: string | null = null;
    if (constraint?.contype === 'CONSTR_CHECK') {
      const text = statement.textFrom(constraint.location as number | undefined);
      const match = /\bcheck\s*(?=\()/i.exec(text);
      check = match ? (parenGroup(text.slice(match.index + match[0].length))?.inner.trim() ?? null) : null;
    }
    statement.finding(domainConstraintValidating({ domain, name: typeof constraint?.conname === 'string' ? constraint.conname : null, check }));
  }
}

function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteTable(table: TableName): string {
  return table.schema ? `${quoteName(table.schema)}.${quoteName(table.table)}` : quoteName(table.table);
}
