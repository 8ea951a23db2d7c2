/** Table and column names read from parse-tree nodes. */
import type { TableName } from '../findings.js';
import type { PgNode } from '../parser.js';

export function tableOf(rangeVar: PgNode | undefined): TableName {
  const schema = typeof rangeVar?.schemaname === 'string' ? rangeVar.schemaname : null;
  const table = String(rangeVar?.relname ?? '');
  return { display: schema ? `${schema}.${table}` : table, schema, table };
}

/** A qualified name given as a list of `String` nodes (`DROP TABLE s.t`, `COMMENT ON COLUMN s.t.c`). */
export function namesOf(list: PgNode | undefined): string[] {
  const items = (list?.List?.items ?? list ?? []) as PgNode[];
  return Array.isArray(items) ? items.map((item) => String(item.String?.sval ?? '')) : [];
}

export function tableFromNames(names: readonly string[]): TableName | null {
  if (names.length === 0) return null;
  const table = names[names.length - 1];
  const schema = names.length >= 2 ? names[names.length - 2] : null;
  return { display: schema ? `${schema}.${table}` : table, schema, table };
}

export function stringList(list: unknown): string[] {
  return Array.isArray(list) ? list.map((item: PgNode) => String(item.String?.sval ?? '')) : [];
}

/** Column names referenced anywhere in an expression (`ColumnRef`s, last field). */
export function columnRefs(expression: unknown, out: string[] = []): string[] {
  if (Array.isArray(expression)) {
    for (const item of expression) columnRefs(item, out);
  } else if (expression !== null && typeof expression === 'object') {
    const node = expression as PgNode;
    if (node.ColumnRef) {
      const last = (node.ColumnRef.fields as PgNode[] | undefined)?.at(-1);
      if (last?.String?.sval) out.push(String(last.String.sval));
      return out;
    }
    for (const value of Object.values(node)) columnRefs(value, out);
  }
  return out;
}


export const RELATION_KINDS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_SEQUENCE', 'OBJECT_FOREIGN_TABLE']);
export const TABLE_CHILD_KINDS = new Set(['OBJECT_TRIGGER', 'OBJECT_RULE', 'OBJECT_POLICY']);
