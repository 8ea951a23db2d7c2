import { isDeepStrictEqual } from 'node:util';
import { parseSync } from 'libpg-query';
import { MigrationError } from '../errors.js';
import { quoteIdentifier, quoteQualified } from '../identifiers.js';
import { withoutLocations } from './sql.js';

/**
 * knex-zd never drops or reuses an object it did not create. The names it generates (an
 * index, a constraint, a view) may already belong to a user's object; before such an object is
 * taken as done, resumed or dropped, its definition as the catalog shows it
 * (`pg_get_indexdef`, `pg_get_constraintdef`, `pg_get_viewdef`) is parsed and compared with the
 * one the operation would create. A mismatch is an error that names the object and its definition.
 */

type Node = Record<string, unknown>;

function firstStatement(sql: string): Node | undefined {
  try {
    return (parseSync(sql) as { stmts?: { stmt?: Node }[] }).stmts?.[0]?.stmt;
  } catch {
    return undefined;
  }
}

/**
 * An expression tree as the catalog would print it back, so that a user's text and
 * PostgreSQL's rendering of the same expression compare equal: casts that parse analysis adds
 * (`(note)::text`, `'a'::text`) are dropped, constants compare by their text, and `IN (…)`,
 * `LIKE` and `BETWEEN` take the shape PostgreSQL stores them in (`= ANY (ARRAY[…])`, `~~`, `>= AND <=`).
 */
export function normalizeExpression(node: unknown): unknown {
  if (Array.isArray(node)) return node.map((child) => normalizeExpression(child));
  if (typeof node !== 'object' || node === null) return node;
  const record = node as Node;
  if ('TypeCast' in record) return normalizeExpression((record.TypeCast as Node).arg);
  if ('A_Const' in record) {
    const c = record.A_Const as Node;
    if (c.isnull === true) return { A_Const: { isnull: true } };
    const text =
      'ival' in c ? String((c.ival as { ival?: number }).ival ?? 0)
      : 'fval' in c ? String((c.fval as { fval?: string }).fval)
      : 'boolval' in c ? String((c.boolval as { boolval?: boolean }).boolval ?? false)
      : 'sval' in c ? String((c.sval as { sval?: string }).sval ?? '')
      : 'bsval' in c ? String((c.bsval as { bsval?: string }).bsval)
      : '';
    return { A_Const: text };
  }
  if ('A_Expr' in record) {
    const e = record.A_Expr as Node;
    const name = e.name as Node[];
    const op = ((name?.[name.length - 1] as Node | undefined)?.String as { sval?: string } | undefined)?.sval;
    if (e.kind === 'AEXPR_IN') {
      const items = ((e.rexpr as Node).List as { items?: unknown[] } | undefined)?.items ?? [];
      return normalizeExpression({
        A_Expr: { kind: op === '<>' ? 'AEXPR_OP_ALL' : 'AEXPR_OP_ANY', name, lexpr: e.lexpr, rexpr: { A_ArrayExpr: { elements: items } } },
      });
    }
    if (e.kind === 'AEXPR_LIKE' || e.kind === 'AEXPR_ILIKE') {
      return normalizeExpression({ A_Expr: { kind: 'AEXPR_OP', name, lexpr: e.lexpr, rexpr: e.rexpr } });
    }
    if (e.kind === 'AEXPR_BETWEEN' || e.kind === 'AEXPR_NOT_BETWEEN') {
      const [low, high] = ((e.rexpr as Node).List as { items: unknown[] }).items;
      const inside = e.kind === 'AEXPR_BETWEEN';
      const compare = (sym: string, bound: unknown) => ({ A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: sym } }], lexpr: e.lexpr, rexpr: bound } });
      return normalizeExpression({
        BoolExpr: {
          boolop: inside ? 'AND_EXPR' : 'OR_EXPR',
          args: inside ? [compare('>=', low), compare('<=', high)] : [compare('<', low), compare('>', high)],
        },
      });
    }
  }
  const out: Node = {};
  for (const [key, value] of Object.entries(withoutLocations(record))) out[key] = normalizeExpression(value);
  return out;
}

/** True when two expression trees mean the same once printed back by the catalog. */
export function sameExpression(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalizeExpression(a), normalizeExpression(b));
}

/** The constraint node of a definition as `pg_get_constraintdef` prints it, or of an `ADD CONSTRAINT` clause. */
function constraintNode(definition: string): Node | undefined {
  const stmt = firstStatement(`ALTER TABLE zd_t ADD CONSTRAINT zd_c ${definition}`);
  const cmd = ((stmt?.AlterTableStmt as Node | undefined)?.cmds as Node[] | undefined)?.[0]?.AlterTableCmd as Node | undefined;
  return (cmd?.def as Node | undefined)?.Constraint as Node | undefined;
}

/** The expression of a CHECK constraint's definition (`CHECK ((x >= 0)) NOT VALID`), or null. */
export function checkExpression(definition: string): unknown {
  const constraint = constraintNode(definition);
  return constraint?.contype === 'CONSTR_CHECK' ? (constraint.raw_expr ?? null) : null;
}

function names(list: unknown): string[] {
  return ((list as Node[] | undefined) ?? []).map((n) => String((n.String as { sval?: string } | undefined)?.sval));
}

/** True when a UNIQUE constraint's definition is `UNIQUE (columns)` with exactly these columns. */
export function sameUnique(definition: string, columns: readonly string[]): boolean {
  const c = constraintNode(definition);
  return c?.contype === 'CONSTR_UNIQUE' && c.including === undefined && c.nulls_not_distinct !== true && isDeepStrictEqual(names(c.keys), [...columns]);
}

/**
 * True when a UNIQUE or PRIMARY KEY constraint's definition (`pg_get_constraintdef`) has the
 * kind, key columns, INCLUDE columns and NULLS NOT DISTINCT of `constraint` (a parsed
 * `ADD CONSTRAINT` node).
 */
export function sameKey(definition: string, constraint: Node): boolean {
  const c = constraintNode(definition);
  if (!c) return false;
  return (
    c.contype === constraint.contype &&
    isDeepStrictEqual(names(c.keys), names(constraint.keys)) &&
    isDeepStrictEqual(names(c.including), names(constraint.including)) &&
    (c.nulls_not_distinct === true) === (constraint.nulls_not_distinct === true)
  );
}

/**
 * True when two FOREIGN KEY definitions have the same columns, referenced columns, actions and
 * match type (the referenced table is compared by the caller, from the catalog: the definition
 * qualifies it only when it is not on the search_path).
 */
export function sameForeignKey(definition: string, clause: string): boolean {
  const shape = (c: Node | undefined) =>
    c?.contype === 'CONSTR_FOREIGN'
      ? [names(c.fk_attrs), names(c.pk_attrs), (c.pktable as Node).relname, c.fk_matchtype, c.fk_upd_action, c.fk_del_action]
      : null;
  const theirs = shape(constraintNode(definition));
  return theirs !== null && isDeepStrictEqual(theirs, shape(constraintNode(clause)));
}

/**
 * True when a FOREIGN KEY definition (`pg_get_constraintdef`) is `constraint` (a parsed
 * `ADD CONSTRAINT` node): same columns, actions and match type, and the same referenced columns
 * when the statement names them (without them it references the primary key, which the
 * definition spells out). The referenced table is compared by the caller, from the catalog.
 */
export function sameForeignKeyConstraint(definition: string, constraint: Node): boolean {
  const theirs = constraintNode(definition);
  if (theirs?.contype !== 'CONSTR_FOREIGN') return false;
  const shape = (c: Node) => [names(c.fk_attrs), c.fk_matchtype, c.fk_upd_action, c.fk_del_action, names(c.fk_del_set_cols)];
  if (!isDeepStrictEqual(shape(theirs), shape(constraint))) return false;
  const referenced = names(constraint.pk_attrs);
  return referenced.length === 0 || isDeepStrictEqual(names(theirs.pk_attrs), referenced);
}

/** The parts of an index that make it the same index, from a `CREATE INDEX` statement. */
function indexShape(sql: string): unknown {
  const index = firstStatement(sql)?.IndexStmt as Node | undefined;
  if (!index) return null;
  return normalizeExpression({
    relation: (index.relation as Node).relname,
    unique: index.unique === true,
    accessMethod: index.accessMethod ?? 'btree',
    // An expression that is a bare column is stored, and printed back, as that column.
    indexParams: ((index.indexParams as Node[] | undefined) ?? []).map((param) => {
      const elem = param.IndexElem as Node;
      const fields = ((elem.expr as Node | undefined)?.ColumnRef as Node | undefined)?.fields as Node[] | undefined;
      const column = fields?.length === 1 ? (fields[0].String as { sval?: string } | undefined)?.sval : undefined;
      if (column === undefined) return param;
      const { expr: _expr, ...rest } = elem;
      return { IndexElem: { ...rest, name: column } };
    }),
    indexIncludingParams: index.indexIncludingParams ?? [],
    whereClause: index.whereClause ?? null,
    nulls_not_distinct: index.nulls_not_distinct === true,
  });
}

/** True when `pg_get_indexdef` of an existing index shows the index that `createSql` builds. */
export function sameIndex(definition: string, createSql: string): boolean {
  const theirs = indexShape(definition);
  return theirs !== null && isDeepStrictEqual(theirs, indexShape(createSql));
}

/** What a view is, when it only passes columns of one relation through: `[output name, source column]` pairs. */
export interface PassThroughView {
  readonly from: string;
  readonly columns: ReadonlyArray<readonly [string, string]>;
}

/** The shape of a view from its `pg_get_viewdef`, when it is a plain `SELECT columns FROM one relation`; else null. */
export function passThroughView(definition: string): PassThroughView | null {
  const select = firstStatement(definition)?.SelectStmt as Node | undefined;
  if (!select) return null;
  if (Object.keys(select).some((k) => !['targetList', 'fromClause', 'limitOption', 'op'].includes(k))) return null;
  const from = select.fromClause as Node[] | undefined;
  const range = from?.length === 1 ? (from[0].RangeVar as Node | undefined) : undefined;
  if (!range || range.alias !== undefined) return null;
  const columns: Array<[string, string]> = [];
  for (const target of (select.targetList as Node[] | undefined) ?? []) {
    const res = target.ResTarget as Node;
    const fields = ((res.val as Node).ColumnRef as Node | undefined)?.fields as Node[] | undefined;
    const last = fields?.[fields.length - 1]?.String as { sval?: string } | undefined;
    if (!last?.sval || fields!.length > 2) return null;
    columns.push([(res.name as string | undefined) ?? last.sval, last.sval]);
  }
  return { from: range.relname as string, columns };
}

/** The error of a generated name that is taken by an object knex-zd did not create. */
export function notOursError(input: {
  operation: string;
  what: string;
  schema: string;
  name: string;
  table?: string;
  definition: string;
  expected: string;
  option: string;
}): MigrationError {
  const where = input.table ? ` on ${quoteQualified(input.schema, input.table)}` : ` in schema ${quoteIdentifier(input.schema)}`;
  return new MigrationError(
    `${input.operation}: ${input.what} ${quoteIdentifier(input.name)} already exists${where} and is not the one ${input.operation} creates:\n` +
      `  found:    ${input.definition}\n` +
      `  expected: ${input.expected}\n` +
      `knex-zd never drops or reuses an object it did not create. ${input.option}`,
    { details: { operation: input.operation, object: input.name, schema: input.schema, definition: input.definition, expected: input.expected } },
  );
}
