/**
 * The catalog look-ups of the safe operations, answered from the plan's schema model while a
 * migration is captured: an operation on a table that an earlier pending migration creates,
 * renames or changes plans its full steps, as it will when it really runs.
 */
import { loadRelations } from '../catalog/load-catalog.js';
import { relationKey, type ModelColumn, type RelationName } from '../catalog/schema-model.js';
import type { CaptureSession } from './capture-session.js';

async function known(session: CaptureSession, name: RelationName, indexes: RelationName[] = []): Promise<void> {
  await loadRelations(session.read, session.model, [name], indexes);
}

/** `pg_class.relkind` of a relation, or `null`. */
export async function modelRelationKind(session: CaptureSession, schema: string, name: string): Promise<string | null> {
  await known(session, { schema, table: name });
  return session.model.relation({ schema, table: name })?.kind ?? null;
}

/** The schema an unqualified table name resolves to on the search path, or `null`. */
export async function modelTableSchema(session: CaptureSession, table: string): Promise<string | null> {
  await known(session, { schema: null, table });
  return session.model.relation({ schema: null, table })?.schema ?? null;
}

/** A column, or `null`. */
export async function modelColumnInfo(session: CaptureSession, schema: string, table: string, column: string): Promise<{ type: string; notNull: boolean; default: string | null } | null> {
  await known(session, { schema, table });
  const facts: ModelColumn | null | undefined = session.model.column({ schema, table }, column);
  return facts ? { type: facts.typeText, notNull: facts.notNull, default: facts.default } : null;
}

/** An index by name, or `null`. */
export async function modelIndexInfo(
  session: CaptureSession,
  schema: string,
  name: string,
): Promise<{ table: string; valid: boolean; unique: boolean; constraint: string | null; definition: string } | null> {
  await loadRelations(session.read, session.model, [], [{ schema, table: name }]);
  const index = session.model.index({ schema, table: name });
  if (!index) return null;
  const table = session.model.relationByKey(index.table);
  const backing = table?.constraints.find((c) => c.name === name && (c.type === 'p' || c.type === 'u' || c.type === 'x'));
  return { table: table?.name ?? index.table.slice(index.table.indexOf('.') + 1), valid: index.valid, unique: index.unique, constraint: backing?.type ?? null, definition: index.definition };
}

/** A constraint by name on a table, or `null`. */
export async function modelConstraintInfo(
  session: CaptureSession,
  schema: string,
  table: string,
  name: string,
): Promise<{ type: string; validated: boolean; definition: string; references: { schema: string; table: string } | null } | null> {
  await known(session, { schema, table });
  const constraint = session.model.relation({ schema, table })?.constraints.find((c) => c.name === name);
  if (!constraint) return null;
  const target = constraint.references ? session.model.relationByKey(constraint.references) : null;
  const references = target ? { schema: target.schema, table: target.name } : null;
  return { type: constraint.type, validated: constraint.validated, definition: constraint.definition, references };
}

/** The primary key columns of a table, in key order. */
export async function modelPrimaryKey(session: CaptureSession, schema: string, table: string): Promise<string[]> {
  await known(session, { schema, table });
  return [...(session.model.relation({ schema, table })?.constraints.find((c) => c.type === 'p')?.columns ?? [])];
}

/** Foreign keys of other tables that reference `schema.table`, as `schema.table (constraint name)`. */
export async function modelReferencingForeignKeys(session: CaptureSession, schema: string, table: string): Promise<string[]> {
  await known(session, { schema, table });
  const relation = session.model.relation({ schema, table });
  if (!relation) return [];
  const names: string[] = [];
  for (const key of relation.referencedBy) {
    const other = session.model.relationByKey(key);
    for (const c of other?.constraints ?? []) {
      if (c.type === 'f' && c.references === relationKey(schema, table)) names.push(`${key} (constraint ${c.name})`);
    }
  }
  return names.sort();
}

/** Does a view's query read from `schema.table`? */
export async function modelViewReadsFrom(session: CaptureSession, schema: string, view: string, table: string): Promise<boolean> {
  await known(session, { schema, table: view });
  return session.model.relation({ schema, table: view })?.reads.includes(relationKey(schema, table)) ?? false;
}

/** A view's definition (`pg_get_viewdef` form), or `null`. */
export async function modelViewDefinition(session: CaptureSession, schema: string, view: string): Promise<string | null> {
  await known(session, { schema, table: view });
  return session.model.relation({ schema, table: view })?.viewDefinition ?? null;
}
