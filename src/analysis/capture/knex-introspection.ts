/**
 * knex's `hasTable` and `hasColumn` ask `information_schema`; during capture they are answered
 * from the plan's schema model, so that a migration checking for a table that an earlier pending
 * migration creates sees it (as it will when it really runs).
 */
import { loadRelations } from '../catalog/load-catalog.js';
import type { RelationName } from '../catalog/schema-model.js';
import type { CaptureSession } from './capture-session.js';

const HAS_TABLE = /^select \* from information_schema\.tables where table_name = \? and table_schema = (\?|current_schema\(\))$/;
const HAS_COLUMN = /^select \* from information_schema\.columns where table_name = \? and column_name = \? and table_schema = (\?|current_schema\(\))$/;

/** Table kinds `information_schema.tables` lists (tables, views, foreign and partitioned tables). */
const LISTED_KINDS = new Set(['r', 'p', 'v', 'f']);

/** The response knex expects for its `hasTable`/`hasColumn` SQL, or `null` when `sql` is something else. */
export async function answerIntrospection(
  session: CaptureSession,
  sql: string,
  bindings: readonly unknown[],
): Promise<{ command: string; rows: Array<Record<string, unknown>>; rowCount: number; fields: [] } | null> {
  const table = HAS_TABLE.exec(sql);
  const column = table ? null : HAS_COLUMN.exec(sql);
  if (!table && !column) return null;
  const explicitSchema = (table ?? column)![1] === '?';
  const tableName = String(bindings[0]);
  const schema = explicitSchema ? String(bindings[table ? 1 : 2]) : session.model.currentSchema;
  const name: RelationName = { schema, table: tableName };
  await loadRelations(session.read, session.model, [name]);
  const relation = session.model.relation(name);
  let rows: Array<Record<string, unknown>> = [];
  if (relation && LISTED_KINDS.has(relation.kind)) {
    if (table) rows = [{ table_schema: schema, table_name: tableName }];
    else if (relation.columns.has(String(bindings[1]))) rows = [{ table_schema: schema, table_name: tableName, column_name: String(bindings[1]) }];
  }
  return { command: 'SELECT', rows, rowCount: rows.length, fields: [] };
}
