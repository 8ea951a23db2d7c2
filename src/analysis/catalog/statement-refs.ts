/** The relations and indexes a parsed statement names, so that their catalog facts can be loaded before it is classified. */
import type { PgNode } from '../parser.js';
import type { RelationName } from './schema-model.js';

/** What a statement names. */
export interface StatementRefs {
  readonly relations: RelationName[];
  readonly indexes: RelationName[];
}

const RELATION_OBJECTS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_SEQUENCE', 'OBJECT_FOREIGN_TABLE']);
const CHILD_OBJECTS = new Set(['OBJECT_TRIGGER', 'OBJECT_RULE', 'OBJECT_POLICY', 'OBJECT_COLUMN', 'OBJECT_TABCONSTRAINT']);

function names(list: unknown): string[] {
  const items = ((list as PgNode | undefined)?.List?.items ?? list ?? []) as PgNode[];
  return Array.isArray(items) ? items.map((item) => String(item.String?.sval ?? '')) : [];
}

function fromNames(parts: readonly string[]): RelationName | null {
  if (parts.length === 0 || parts.at(-1) === '') return null;
  return { schema: parts.length >= 2 ? (parts.at(-2) ?? null) : null, table: parts.at(-1) ?? '' };
}

/** Every relation (RangeVar anywhere in the tree, DROP/COMMENT object names) and index (DROP INDEX, ALTER INDEX) a statement names. */
export function statementRefs(node: PgNode): StatementRefs {
  const relations: RelationName[] = [];
  const indexes: RelationName[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    // A RangeVar: wrapped as { RangeVar: {…} } in lists, bare in fields such as CreateStmt.relation.
    const self = value as PgNode;
    if (typeof self.relname === 'string') {
      relations.push({ schema: typeof self.schemaname === 'string' ? self.schemaname : null, table: self.relname });
      return;
    }
    for (const [key, child] of Object.entries(value as PgNode)) {
      if (key === 'RangeVar') {
        visit(child);
      } else if (key === 'DropStmt' || key === 'CommentStmt') {
        const body = child as PgNode;
        const kind = String(body.removeType ?? body.objtype);
        const objects = key === 'DropStmt' ? ((body.objects ?? []) as unknown[]) : [body.object];
        for (const object of objects) {
          const parts = names(object);
          if (kind === 'OBJECT_INDEX') {
            const name = fromNames(parts);
            if (name) indexes.push(name);
          } else if (RELATION_OBJECTS.has(kind)) {
            const name = fromNames(parts);
            if (name) relations.push(name);
          } else if (CHILD_OBJECTS.has(kind)) {
            const name = fromNames(parts.slice(0, -1));
            if (name) relations.push(name);
          }
        }
      } else if ((key === 'AlterTableStmt' || key === 'RenameStmt') && ['OBJECT_INDEX'].includes(String((child as PgNode).objtype ?? (child as PgNode).renameType))) {
        const rv = (child as PgNode).relation as PgNode | undefined;
        if (rv && typeof rv.relname === 'string') indexes.push({ schema: typeof rv.schemaname === 'string' ? rv.schemaname : null, table: rv.relname });
      }
      visit(child);
    }
  };
  visit(node);
  return { relations: unique(relations), indexes: unique(indexes) };
}

function unique(names: readonly RelationName[]): RelationName[] {
  const seen = new Map<string, RelationName>();
  for (const name of names) if (!seen.has(`${name.schema}\u0000${name.table}`)) seen.set(`${name.schema}\u0000${name.table}`, name);
  return [...seen.values()];
}
