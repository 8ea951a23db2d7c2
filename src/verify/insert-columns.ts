/**
 * The NOT NULL check of INSERTs: what an INSERT supplies for each column (read from its parse
 * tree), judged against the catalog of the schema it runs against. `PREPARE` accepts an INSERT
 * that leaves out a NOT NULL column without a default; the row only fails when it is written,
 * which is the classic way old code breaks after a new column. Views are followed to the table
 * they insert into, as PostgreSQL's automatically updatable views do.
 */
import { walkParseTree, type PgNode } from '../analysis/parser.js';

/** What one row gives a column: a value, the column's default (left out or `DEFAULT`), or a literal NULL. */
export type ColumnGiven = 'value' | 'default' | 'null';

/** One INSERT of a statement (top level, or in a WITH clause). */
export interface InsertTarget {
  readonly schema: string | null;
  readonly table: string;
  /** The column list; `null` when the INSERT gives none (values go to the first columns in order). */
  readonly columns: readonly string[] | null;
  /**
   * Per column position, what the rows give it (a NULL in any row wins, then a DEFAULT); `null`
   * when not known (an `INSERT … SELECT *`, a UNION). `[]` for `DEFAULT VALUES`.
   */
  readonly given: readonly ColumnGiven[] | null;
}

/** A relation's facts, as verify reads them from the shadow database's catalog. */
export interface RelationFacts {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  /** `pg_class.relkind`. */
  readonly kind: string;
  /** Columns in order: NOT NULL, and whether something fills it when left out (default, identity, generated). */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly notNull: boolean; readonly filled: boolean }>;
  /** Single-column `CHECK (c IS NOT NULL)` constraints (NOT VALID ones too: new rows are checked). */
  readonly notNullChecks: ReadonlyArray<{ readonly name: string; readonly column: string }>;
  /** For a view: its query's select list, mapped to the base relation's columns (`null` for an expression), when the view is simple. */
  readonly viewColumns: readonly (string | null)[] | null;
  /** For a simple view: the oid of the one relation it reads. */
  readonly viewBase: number | null;
  /** True when INSTEAD OF triggers or rules decide what an INSERT does. */
  readonly instead: boolean;
}

/** A row the INSERT would fail to write, as PostgreSQL would report it. */
export interface NotNullViolation {
  readonly sqlState: '23502' | '23514';
  readonly message: string;
  readonly detail: string;
}

function unwrap(node: PgNode | undefined, type: string): PgNode | undefined {
  return node?.[type] as PgNode | undefined;
}

function givenOf(item: PgNode): ColumnGiven {
  if (item.SetToDefault) return 'default';
  if (item.A_Const?.isnull === true) return 'null';
  return 'value';
}

const RANK: Record<ColumnGiven, number> = { value: 0, default: 1, null: 2 };

/** What the rows of an INSERT's source give each column position. */
function givenBySource(select: PgNode | undefined): ColumnGiven[] | null {
  if (!select) return [];
  const s = unwrap(select, 'SelectStmt');
  if (!s) return null;
  if (Array.isArray(s.valuesLists) && s.valuesLists.length > 0) {
    const out: ColumnGiven[] = [];
    for (const list of s.valuesLists as PgNode[]) {
      const items = (unwrap(list, 'List')?.items ?? []) as PgNode[];
      items.forEach((item, i) => {
        const given = givenOf(item);
        if (out[i] === undefined || RANK[given] > RANK[out[i]]) out[i] = given;
      });
    }
    return out;
  }
  if (s.op && s.op !== 'SETOP_NONE') return null;
  const targets = (s.targetList ?? []) as PgNode[];
  if (targets.some((t) => (unwrap(t, 'ResTarget')?.val?.ColumnRef?.fields as PgNode[] | undefined)?.some((f) => f.A_Star))) return null;
  return targets.map(() => 'value');
}

/** Every INSERT in a statement's parse tree (top level and in WITH clauses). */
export function insertTargets(node: PgNode): InsertTarget[] {
  const out: InsertTarget[] = [];
  walkParseTree(node, (key, child) => {
    const insert = key === 'InsertStmt' ? (child as PgNode | undefined) : undefined;
    if (insert?.relation) {
      const relation = insert.relation as PgNode;
      const columns = Array.isArray(insert.cols) ? (insert.cols as PgNode[]).map((c) => String(unwrap(c, 'ResTarget')?.name)) : null;
      out.push({ schema: (relation.schemaname as string | undefined) ?? null, table: String(relation.relname), columns, given: givenBySource(insert.selectStmt as PgNode | undefined) });
    }
    return undefined;
  });
  return out;
}

/** The column named by a `CHECK` expression of the form `c IS NOT NULL` (as `pg_get_expr` prints it, parsed), else null. */
export function notNullCheckColumn(expression: PgNode | undefined): string | null {
  const test = unwrap(expression, 'NullTest');
  if (!test || test.nulltesttype !== 'IS_NOT_NULL') return null;
  const fields = unwrap(test.arg as PgNode, 'ColumnRef')?.fields as PgNode[] | undefined;
  if (!fields || fields.length !== 1) return null;
  const name = unwrap(fields[0], 'String')?.sval;
  return typeof name === 'string' ? name : null;
}

/** What each column of `relation` gets from the INSERT, by name. */
function givenByColumn(target: Pick<InsertTarget, 'columns' | 'given'>, relation: RelationFacts): Map<string, ColumnGiven> | null {
  if (target.given === null && target.columns === null) return null;
  const names = target.columns ?? relation.columns.slice(0, target.given?.length ?? 0).map((c) => c.name);
  const out = new Map<string, ColumnGiven>(relation.columns.map((c) => [c.name, 'default']));
  names.forEach((name, i) => {
    const given = target.given?.[i] ?? 'value';
    const before = out.get(name);
    if (before === undefined || before === 'default' || RANK[given] > RANK[before]) out.set(name, given);
  });
  return out;
}

/**
 * The first column the INSERT leaves NULL although it must not be (NOT NULL, or a `CHECK (c IS
 * NOT NULL)`), following simple views to their table. `load` gives a relation's facts by oid.
 * `null` when every row is fine, or when it cannot be told (INSTEAD OF triggers, a complex view).
 */
export async function findNotNullViolation(
  target: InsertTarget,
  relation: RelationFacts,
  load: (oid: number) => Promise<RelationFacts | null>,
): Promise<NotNullViolation | null> {
  let given = givenByColumn(target, relation);
  let current = relation;
  const through: string[] = [];
  for (let depth = 0; given && depth < 8; depth++) {
    if (current.kind === 'r' || current.kind === 'p') return judge(current, given, through);
    if (current.kind !== 'v' || current.instead || current.viewColumns === null || current.viewBase === null) return null;
    const base = await load(current.viewBase);
    if (!base) return null;
    // A base column gets what the view columns mapped to it get; a view column's own default
    // fills it when the INSERT leaves it out; base columns outside the view get their defaults.
    const next = new Map<string, ColumnGiven>(base.columns.map((c) => [c.name, 'default']));
    current.viewColumns.forEach((baseColumn, i) => {
      const viewColumn = current.columns[i];
      if (baseColumn === null || !viewColumn) return;
      let value = given!.get(viewColumn.name) ?? 'default';
      if (value === 'default' && viewColumn.filled) value = 'value';
      const before = next.get(baseColumn) ?? 'default';
      if (before === 'default' || RANK[value] > RANK[before]) next.set(baseColumn, value);
    });
    through.push(`${current.schema}.${current.name}`);
    given = next;
    current = base;
  }
  return null;
}

function judge(relation: RelationFacts, given: Map<string, ColumnGiven>, through: readonly string[]): NotNullViolation | null {
  const via = through.length > 0 ? ` (through the view ${through.map((v) => `"${v}"`).join(', then ')})` : '';
  for (const column of relation.columns) {
    const value = given.get(column.name) ?? 'default';
    if (!column.notNull) continue;
    if (value === 'null' || (value === 'default' && !column.filled)) {
      return {
        sqlState: '23502',
        message: `null value in column "${column.name}" of relation "${relation.name}" violates not-null constraint`,
        detail: `${describe(value, column.name)}${via}, and "${column.name}" is NOT NULL${value === 'null' ? '' : ' without a default'}`,
      };
    }
  }
  for (const check of relation.notNullChecks) {
    const column = relation.columns.find((c) => c.name === check.column);
    if (!column) continue;
    const value = given.get(column.name) ?? 'default';
    if (value === 'null' || (value === 'default' && !column.filled)) {
      return {
        sqlState: '23514',
        message: `new row for relation "${relation.name}" violates check constraint "${check.name}"`,
        detail: `${describe(value, column.name)}${via}, and the constraint "${check.name}" is CHECK ("${column.name}" IS NOT NULL)`,
      };
    }
  }
  return null;
}

function describe(value: ColumnGiven, column: string): string {
  return value === 'null' ? `the INSERT gives NULL for "${column}"` : `the INSERT gives no value for "${column}"`;
}
