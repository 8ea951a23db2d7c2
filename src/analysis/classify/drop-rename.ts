/** DROP, RENAME, SET SCHEMA and TRUNCATE. */
import { dropIndexBlocking, renameColumn, renameTable, truncateCascade } from '../findings.js';
import type { TableName } from '../findings.js';
import type { PgNode } from '../parser.js';
import type { LockMode } from '../types.js';
import { RELATION_KINDS, TABLE_CHILD_KINDS, namesOf, tableFromNames, tableOf } from './names.js';
import type { StatementBuilder } from './statement.js';
import type { SchemaModel } from '../catalog/schema-model.js';

export const DROP_WORDS: Readonly<Record<string, string>> = {
  OBJECT_TABLE: 'TABLE',
  OBJECT_VIEW: 'VIEW',
  OBJECT_MATVIEW: 'MATERIALIZED VIEW',
  OBJECT_SEQUENCE: 'SEQUENCE',
  OBJECT_FOREIGN_TABLE: 'FOREIGN TABLE',
  OBJECT_INDEX: 'INDEX',
  OBJECT_TRIGGER: 'TRIGGER',
  OBJECT_RULE: 'RULE',
  OBJECT_POLICY: 'POLICY',
  OBJECT_TYPE: 'TYPE',
  OBJECT_DOMAIN: 'DOMAIN',
  OBJECT_FUNCTION: 'FUNCTION',
  OBJECT_PROCEDURE: 'PROCEDURE',
  OBJECT_ROUTINE: 'ROUTINE',
  OBJECT_AGGREGATE: 'AGGREGATE',
  OBJECT_SCHEMA: 'SCHEMA',
  OBJECT_EXTENSION: 'EXTENSION',
  OBJECT_STATISTIC_EXT: 'STATISTICS',
};


export function classifyDrop(statement: StatementBuilder, body: PgNode): void {
  const kind = String(body.removeType);
  const concurrent = Boolean(body.concurrent);
  const word = DROP_WORDS[kind] ?? kind.replace(/^OBJECT_/, '').replace(/_/g, ' ');
  statement.summary = `DROP ${word}${concurrent ? ' CONCURRENTLY' : ''}`;
  const objects = (body.objects ?? []) as PgNode[];
  if (kind === 'OBJECT_INDEX') {
    const lock: LockMode = concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
    statement.action(statement.summary, 'post-deploy', lock);
    if (concurrent) statement.transactional = false;
    const model = statement.input.model;
    for (const object of objects) {
      const index = tableFromNames(namesOf(object));
      if (!index) continue;
      // The lock is on the index's table, which the statement does not name: the catalog says which.
      const known = model?.index(index);
      const table = known ? model?.relationByKey(known.table) : null;
      if (model && table) statement.lock(displayName(model, table.schema, table.name, index.schema !== null), lock);
      statement.lock(index.display, lock);
      if (!concurrent && !statement.input.isNewIndex(index.table)) {
        statement.finding(dropIndexBlocking({ index: index.table, schema: index.schema }));
      }
      model?.dropIndex(index);
    }
    return;
  }
  if (RELATION_KINDS.has(kind)) {
    statement.action(statement.summary, 'post-deploy', 'ACCESS EXCLUSIVE');
    const model = statement.input.model;
    const cascade = body.behavior === 'DROP_CASCADE';
    for (const object of objects) {
      const table = tableFromNames(namesOf(object));
      if (!table) continue;
      statement.lock(table.display, 'ACCESS EXCLUSIVE');
      statement.object(table, null, 'drop');
      const relation = model?.relation(table);
      if (model && relation) {
        // Its foreign keys go with it: their triggers on the referenced tables are dropped under
        // ACCESS EXCLUSIVE. With CASCADE, so do the foreign keys of the tables that reference it.
        const neighbours = new Set(relation.constraints.filter((c) => c.type === 'f' && c.references).map((c) => c.references as string));
        if (cascade) for (const key of relation.referencedBy) neighbours.add(key);
        neighbours.delete(`${relation.schema}.${relation.name}`);
        for (const key of neighbours) {
          const other = model.relationByKey(key);
          if (other) statement.lock(displayName(model, other.schema, other.name, table.schema !== null), 'ACCESS EXCLUSIVE');
        }
      }
      model?.dropRelation(table);
    }
    return;
  }
  if (TABLE_CHILD_KINDS.has(kind)) {
    statement.action(statement.summary, 'post-deploy', 'ACCESS EXCLUSIVE');
    for (const object of objects) {
      const table = tableFromNames(namesOf(object).slice(0, -1));
      if (!table) continue;
      statement.lock(table.display, 'ACCESS EXCLUSIVE');
      statement.object(table, null, 'alter');
    }
    return;
  }
  statement.action(statement.summary, 'post-deploy', null);
}

export const RENAME_WORDS: Readonly<Record<string, string>> = {
  OBJECT_TABLE: 'TABLE',
  OBJECT_COLUMN: 'COLUMN',
  OBJECT_VIEW: 'VIEW',
  OBJECT_MATVIEW: 'MATERIALIZED VIEW',
  OBJECT_INDEX: 'INDEX',
  OBJECT_SEQUENCE: 'SEQUENCE',
  OBJECT_FOREIGN_TABLE: 'FOREIGN TABLE',
  OBJECT_TABCONSTRAINT: 'CONSTRAINT',
  OBJECT_TRIGGER: 'TRIGGER',
  OBJECT_POLICY: 'POLICY',
  OBJECT_RULE: 'RULE',
};

export function classifyRename(statement: StatementBuilder, body: PgNode): void {
  const kind = String(body.renameType);
  const newName = String(body.newname ?? '');
  const word = RENAME_WORDS[kind] ?? kind.replace(/^OBJECT_/, '').replace(/_/g, ' ');
  statement.summary = `RENAME ${word}`;
  if (!body.relation) {
    // Types, functions, schemas…: no table lock, but old code may still use the old name.
    statement.action(statement.summary, 'post-deploy', null);
    return;
  }
  const table = tableOf(body.relation);
  const isNew = statement.input.isNewTable(table);
  // ALTER INDEX … RENAME only needs SHARE UPDATE EXCLUSIVE since PostgreSQL 12.
  const lock: LockMode = kind === 'OBJECT_INDEX' ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
  statement.action(statement.summary, isNew ? null : 'post-deploy', lock);
  statement.lock(table.display, lock);
  const model = statement.input.model;
  if (kind === 'OBJECT_COLUMN') {
    const from = String(body.subname ?? '');
    statement.object(table, from, 'rename', newName);
    model?.renameColumn(table, from, newName);
    if (!isNew) statement.finding(renameColumn({ table, from, to: newName }));
  } else if (kind === 'OBJECT_INDEX') {
    statement.input.addIndex(newName);
    model?.renameIndex(table, newName);
  } else if (RELATION_KINDS.has(kind)) {
    statement.object(table, null, 'rename', newName);
    model?.renameRelation(table, { schema: table.schema, table: newName });
    if (isNew) statement.input.addTable({ display: table.schema ? `${table.schema}.${newName}` : newName, schema: table.schema, table: newName });
    else if (kind === 'OBJECT_TABLE') statement.finding(renameTable({ table, to: newName }));
  } else {
    statement.object(table, null, 'alter');
  }
}

export function classifySetSchema(statement: StatementBuilder, body: PgNode): void {
  const kind = String(body.objectType);
  const word = RENAME_WORDS[kind] ?? kind.replace(/^OBJECT_/, '').replace(/_/g, ' ');
  statement.summary = `ALTER ${word} SET SCHEMA`;
  if (!body.relation) {
    statement.action(statement.summary, 'post-deploy', null);
    return;
  }
  const table = tableOf(body.relation);
  const newSchema = String(body.newschema ?? '');
  statement.action(statement.summary, statement.input.isNewTable(table) ? null : 'post-deploy', 'ACCESS EXCLUSIVE');
  statement.lock(table.display, 'ACCESS EXCLUSIVE');
  statement.object(table, null, 'rename', `${newSchema}.${table.table}`);
  statement.input.model?.renameRelation(table, { schema: newSchema, table: table.table });
}

export function classifyTruncate(statement: StatementBuilder, body: PgNode): void {
  statement.summary = 'TRUNCATE';
  statement.action('TRUNCATE', 'post-deploy', 'ACCESS EXCLUSIVE');
  const model = statement.input.model;
  const cascade = body.behavior === 'DROP_CASCADE';
  const tables: TableName[] = [];
  for (const entry of (body.relations ?? []) as PgNode[]) {
    const table = tableOf(entry.RangeVar);
    tables.push(table);
    statement.lock(table.display, 'ACCESS EXCLUSIVE');
    statement.object(table, null, 'alter');
    model?.markWritten(table);
    // CASCADE empties the tables whose foreign keys reference it too.
    const relation = cascade ? model?.relation(table) : null;
    if (model && relation) {
      for (const key of relation.referencedBy) {
        const other = model.relationByKey(key);
        if (other) statement.lock(displayName(model, other.schema, other.name, table.schema !== null), 'ACCESS EXCLUSIVE');
      }
    }
  }
  if (body.behavior === 'DROP_CASCADE' && tables.some((table) => !statement.input.isNewTable(table))) {
    statement.finding(truncateCascade({ tables }));
  }
}

/** A relation the statement does not name, as lock lists name relations: qualified unless the statement itself was not and it is on the first schema of the search path. */
function displayName(model: SchemaModel, schema: string, name: string, qualified: boolean): string {
  return !qualified && schema === model.currentSchema ? name : `${schema}.${name}`;
}
