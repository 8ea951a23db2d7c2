/**
 * What the classifier knows of the schema a statement runs against: the facts read from a
 * database (the target, or the shadow at that moment) for the relations the statements name,
 * with the effects of the statements classified so far applied on top. Lookups are synchronous
 * (the classifier is); loading is the caller's job, before classifying (see `load-catalog.ts`).
 *
 * A lookup answers `undefined` when the model was never told about the relation: the classifier
 * then falls back to what the SQL alone says, as it did before catalog facts existed.
 */
import { columnTypeFromText } from './type-text.js';
import type { ColumnType } from '../column-types.js';

/** A relation as SQL names it: `schema` is `null` when the SQL does not qualify it. */
export interface RelationName {
  readonly schema: string | null;
  readonly table: string;
}

/** A column as the catalog describes it. */
export interface ModelColumn {
  /** `format_type()` text, e.g. `character varying(255)`. */
  readonly typeText: string;
  /** The type as the classifier compares types; `null` when it cannot be parsed. */
  readonly type: ColumnType | null;
  readonly notNull: boolean;
  /** The default expression's text, or `null` when the column has none. */
  readonly default: string | null;
}

/** An index and the table it belongs to. */
export interface ModelIndex {
  readonly schema: string;
  readonly name: string;
  /** Key (`schema.table`) of the indexed table. */
  readonly table: string;
  /** Key columns by name; an expression element is `null`. */
  readonly columns: readonly (string | null)[];
  readonly unique: boolean;
  readonly primary: boolean;
  readonly valid: boolean;
  readonly partial: boolean;
  /** `pg_get_indexdef()`, or the CREATE INDEX text for an index a statement created. */
  readonly definition: string;
}

/** A table constraint. */
export interface ModelConstraint {
  readonly name: string;
  /** `pg_constraint.contype`: `c` check, `f` foreign key, `u` unique, `p` primary key, `x` exclusion, `n` not null. */
  readonly type: string;
  readonly columns: readonly string[];
  /** For a foreign key: the key (`schema.table`) of the referenced table. */
  readonly references: string | null;
  readonly validated: boolean;
  /** `pg_get_constraintdef()`, or the constraint's text for one a statement added. */
  readonly definition: string;
}

/** A relation: table, view, materialized view, sequence… */
export interface ModelRelation {
  readonly schema: string;
  readonly name: string;
  /** `pg_class.relkind`: `r` table, `p` partitioned table, `v` view, `m` materialized view, `S` sequence, `f` foreign table. */
  readonly kind: string;
  readonly columns: Map<string, ModelColumn>;
  /** False for a relation created by a statement whose columns the model cannot tell (CREATE VIEW, CREATE TABLE AS). */
  readonly columnsKnown: boolean;
  readonly constraints: ModelConstraint[];
  /** Keys of the tables whose foreign keys reference this one (other than itself). */
  readonly referencedBy: Set<string>;
  /** For a view: keys of the relations its query reads. */
  readonly reads: readonly string[];
  /** For a view: its query as `pg_get_viewdef` prints it (`SELECT *` expanded), when known. */
  readonly viewDefinition: string | null;
  /** Estimated rows (`reltuples`, `-1` when never analysed), for sizes; `null` when created by a pending statement. */
  readonly rows: number | null;
  readonly bytes: number | null;
}

/** The catalog facts a loader returns for one relation. */
export interface LoadedRelation {
  readonly schema: string;
  readonly name: string;
  readonly kind: string;
  readonly columns: ReadonlyArray<{ name: string; type: string; notNull: boolean; default: string | null }>;
  readonly indexes: ReadonlyArray<Omit<ModelIndex, 'table'>>;
  readonly constraints: readonly ModelConstraint[];
  readonly referencedBy: readonly string[];
  readonly reads: readonly string[];
  readonly viewDefinition: string | null;
  readonly rows: number | null;
  readonly bytes: number | null;
}

const ABSENT = 'absent' as const;

/** `schema.name`, the key of a relation or an index. */
export function relationKey(schema: string, name: string): string {
  return `${schema}.${name}`;
}

/** The schema model of one analysis run (a plan): loaded facts plus the effects of the statements seen so far. */
export class SchemaModel {
  private readonly relations = new Map<string, ModelRelation | typeof ABSENT>();
  private readonly indexes = new Map<string, ModelIndex | typeof ABSENT>();
  /** Where unqualified names resolved (or `null`: nowhere on the search path). */
  private readonly unqualified = new Map<string, string | null>();
  private readonly unqualifiedIndexes = new Map<string, string | null>();
  /** Keys of the relations that statements created, dropped or renamed, or whose rows they wrote. */
  private readonly changed = new Set<string>();

  /**
   * @param searchPath the schemas of `current_schemas(false)`, in order; the first is where
   *   unqualified CREATEs land.
   * @param serverVersionNum `server_version_num` of the database the facts come from.
   */
  constructor(
    readonly searchPath: readonly string[],
    readonly serverVersionNum: number,
  ) {}

  /** The schema an unqualified CREATE puts its object in. */
  get currentSchema(): string {
    return this.searchPath[0] ?? 'public';
  }

  // ---- what to load ----------------------------------------------------------------------

  /** True when the model has an answer (present or absent) for the relation. */
  knowsRelation(name: RelationName): boolean {
    return this.resolve(name) !== undefined;
  }

  /** True when the model has an answer for the index. */
  knowsIndex(name: RelationName): boolean {
    return this.resolveIndex(name) !== undefined;
  }

  /** Records what a loader found: the relations asked for (absent when not in `found`), with their indexes. */
  absorb(asked: readonly RelationName[], askedIndexes: readonly RelationName[], found: readonly LoadedRelation[]): void {
    for (const relation of found) {
      const key = relationKey(relation.schema, relation.name);
      if (this.relations.has(key)) continue; // what statements did since outranks the database
      this.relations.set(key, {
        schema: relation.schema,
        name: relation.name,
        kind: relation.kind,
        columns: new Map(relation.columns.map((c) => [c.name, { typeText: c.type, type: columnTypeFromText(c.type), notNull: c.notNull, default: c.default }])),
        columnsKnown: true,
        constraints: [...relation.constraints],
        referencedBy: new Set(relation.referencedBy),
        reads: relation.reads,
        viewDefinition: relation.viewDefinition,
        rows: relation.rows,
        bytes: relation.bytes,
      });
      for (const index of relation.indexes) {
        const indexKey = relationKey(index.schema, index.name);
        if (!this.indexes.has(indexKey)) this.indexes.set(indexKey, { ...index, table: key });
      }
    }
    for (const name of asked) {
      if (this.resolve(name) !== undefined) continue;
      const match = found.find((r) => r.name === name.table && (name.schema === null || r.schema === name.schema));
      if (name.schema !== null) {
        if (!match) this.relations.set(relationKey(name.schema, name.table), ABSENT);
      } else {
        this.unqualified.set(name.table, match ? relationKey(match.schema, match.name) : null);
      }
    }
    for (const name of askedIndexes) {
      if (this.resolveIndex(name) !== undefined) continue;
      const match = found.flatMap((r) => r.indexes).find((i) => i.name === name.table && (name.schema === null || i.schema === name.schema));
      if (name.schema !== null) {
        if (!match) this.indexes.set(relationKey(name.schema, name.table), ABSENT);
      } else {
        this.unqualifiedIndexes.set(name.table, match ? relationKey(match.schema, match.name) : null);
      }
    }
  }

  /** Forgets what was loaded for these relations, so that the next load reads them again (the shadow moved on). */
  forget(names: readonly RelationName[]): void {
    for (const name of names) {
      const key = this.resolve(name);
      if (key) {
        const relation = this.relations.get(key);
        this.relations.delete(key);
        if (relation && relation !== ABSENT) {
          for (const [indexKey, index] of this.indexes) if (index !== ABSENT && index.table === key) this.indexes.delete(indexKey);
        }
      }
      if (name.schema === null) this.unqualified.delete(name.table);
    }
  }

  // ---- lookups ---------------------------------------------------------------------------

  /** The key a name resolves to; `null` when known to be absent; `undefined` when unknown. */
  resolve(name: RelationName): string | null | undefined {
    return this.resolveIn(this.relations, this.unqualified, name);
  }

  /** `name` resolved among `entries`: its schema, else the search path, else where it resolved when read. */
  private resolveIn(entries: ReadonlyMap<string, unknown>, unqualified: ReadonlyMap<string, string | null>, name: RelationName): string | null | undefined {
    if (name.schema !== null) {
      const key = relationKey(name.schema, name.table);
      const entry = entries.get(key);
      return entry === undefined ? undefined : entry === ABSENT ? null : key;
    }
    for (const schema of this.searchPath) {
      const entry = entries.get(relationKey(schema, name.table));
      if (entry !== undefined && entry !== ABSENT) return relationKey(schema, name.table);
    }
    const alias = unqualified.get(name.table);
    if (alias === undefined) return undefined;
    if (alias === null) return null;
    return entries.get(alias) === ABSENT ? null : alias;
  }

  /** The relation, `null` when known absent, `undefined` when unknown. */
  relation(name: RelationName): ModelRelation | null | undefined {
    const key = this.resolve(name);
    if (key === undefined || key === null) return key;
    const entry = this.relations.get(key);
    return entry === ABSENT || entry === undefined ? null : entry;
  }

  /** A relation by key. */
  relationByKey(key: string): ModelRelation | null {
    const entry = this.relations.get(key);
    return entry === undefined || entry === ABSENT ? null : entry;
  }

  /** A column, `null` when the relation is known and lacks it, `undefined` when unknown. */
  column(name: RelationName, column: string): ModelColumn | null | undefined {
    const relation = this.relation(name);
    if (relation === undefined) return undefined;
    if (relation === null) return null;
    return relation.columns.get(column) ?? (relation.columnsKnown ? null : undefined);
  }

  private resolveIndex(name: RelationName): string | null | undefined {
    return this.resolveIn(this.indexes, this.unqualifiedIndexes, name);
  }

  /** An index by name, `null` when known absent, `undefined` when unknown. */
  index(name: RelationName): ModelIndex | null | undefined {
    const key = this.resolveIndex(name);
    if (key === undefined || key === null) return key;
    const entry = this.indexes.get(key);
    return entry === ABSENT || entry === undefined ? null : entry;
  }

  /** Every known index of a table. */
  indexesOf(table: RelationName): ModelIndex[] {
    const key = this.resolve(table);
    if (!key) return [];
    return [...this.indexes.values()].filter((i): i is ModelIndex => i !== ABSENT && i.table === key);
  }

  /**
   * True when a statement classified so far created, dropped or renamed the relation, or wrote
   * its rows: the target's answer to a read of it would not be what the migration will see.
   * (Added or altered columns are not counted: a read that names them fails on the target.)
   */
  isChanged(name: RelationName): boolean {
    if (name.schema !== null) return this.changed.has(relationKey(name.schema, name.table));
    const alias = this.unqualified.get(name.table);
    if (alias && this.changed.has(alias)) return true;
    return this.searchPath.some((schema) => this.changed.has(relationKey(schema, name.table)));
  }

  /** Records that a statement writes the relation's rows (INSERT, UPDATE, DELETE, TRUNCATE…). */
  markWritten(name: RelationName): void {
    const key = this.resolve(name);
    this.changed.add(key ?? relationKey(name.schema ?? this.currentSchema, name.table));
  }

  // ---- effects of statements -------------------------------------------------------------

  private keyForCreate(name: RelationName): string {
    const schema = name.schema ?? this.currentSchema;
    if (name.schema === null) this.unqualified.set(name.table, relationKey(schema, name.table));
    return relationKey(schema, name.table);
  }

  /** A relation created by a statement (CREATE TABLE/VIEW…). */
  createRelation(name: RelationName, kind: string, columnsKnown = true, reads: readonly string[] = [], viewDefinition: string | null = null): ModelRelation {
    const key = this.keyForCreate(name);
    const relation: ModelRelation = {
      schema: name.schema ?? this.currentSchema,
      name: name.table,
      kind,
      columns: new Map(),
      columnsKnown,
      constraints: [],
      referencedBy: new Set(),
      reads,
      viewDefinition,
      rows: null,
      bytes: null,
    };
    this.relations.set(key, relation);
    this.changed.add(key);
    return relation;
  }

  /** A relation dropped by a statement, with its indexes. */
  dropRelation(name: RelationName): void {
    const key = this.resolve(name);
    const target = key ?? relationKey(name.schema ?? this.currentSchema, name.table);
    this.changed.add(target);
    this.relations.set(target, ABSENT);
    for (const [indexKey, index] of this.indexes) if (index !== ABSENT && index.table === target) this.indexes.set(indexKey, ABSENT);
    for (const relation of this.relations.values()) if (relation !== ABSENT) relation.referencedBy.delete(target);
  }

  /** A relation renamed (or moved to another schema) by a statement. */
  renameRelation(name: RelationName, to: RelationName): void {
    const key = this.resolve(name);
    if (!key) return;
    const relation = this.relations.get(key);
    if (!relation || relation === ABSENT) return;
    const schema = to.schema ?? relation.schema;
    const newKey = relationKey(schema, to.table);
    this.changed.add(key);
    this.changed.add(newKey);
    this.relations.set(key, ABSENT);
    this.relations.set(newKey, { ...relation, schema, name: to.table });
    if (name.schema === null) this.unqualified.set(name.table, null);
    this.unqualified.set(to.table, newKey);
    for (const [indexKey, index] of this.indexes) if (index !== ABSENT && index.table === key) this.indexes.set(indexKey, { ...index, table: newKey });
  }

  /** Adds or replaces a column (ADD COLUMN, a CREATE TABLE column, ALTER COLUMN TYPE/…). */
  setColumn(table: RelationName, column: string, facts: ModelColumn): void {
    this.relation(table)?.columns.set(column, facts);
  }

  dropColumn(table: RelationName, column: string): void {
    this.relation(table)?.columns.delete(column);
  }

  renameColumn(table: RelationName, from: string, to: string): void {
    const relation = this.relation(table);
    const facts = relation?.columns.get(from);
    if (!relation || !facts) return;
    relation.columns.delete(from);
    relation.columns.set(to, facts);
  }

  /** An index created by a statement. */
  createIndex(schema: string | null, name: string, table: RelationName, facts: Omit<ModelIndex, 'schema' | 'name' | 'table'>): void {
    const tableKey = this.resolve(table) ?? relationKey(table.schema ?? this.currentSchema, table.table);
    const indexSchema = schema ?? tableKey.slice(0, tableKey.indexOf('.'));
    const key = relationKey(indexSchema, name);
    if (schema === null) this.unqualifiedIndexes.set(name, key);
    this.indexes.set(key, { schema: indexSchema, name, table: tableKey, ...facts });
  }

  dropIndex(name: RelationName): void {
    const key = this.resolveIndex(name);
    this.indexes.set(key ?? relationKey(name.schema ?? this.currentSchema, name.table), ABSENT);
  }

  renameIndex(name: RelationName, to: string): void {
    const key = this.resolveIndex(name);
    if (!key) return;
    const index = this.indexes.get(key);
    if (!index || index === ABSENT) return;
    this.indexes.set(key, ABSENT);
    const newKey = relationKey(index.schema, to);
    this.indexes.set(newKey, { ...index, name: to });
    if (name.schema === null) this.unqualifiedIndexes.set(to, newKey);
  }

  addConstraint(table: RelationName, constraint: ModelConstraint): void {
    const relation = this.relation(table);
    if (!relation) return;
    relation.constraints.push(constraint);
    if (constraint.references) {
      const target = this.relationByKey(constraint.references);
      const key = this.resolve(table);
      if (target && key && key !== constraint.references) target.referencedBy.add(key);
    }
  }

  dropConstraint(table: RelationName, name: string): ModelConstraint | null {
    const relation = this.relation(table);
    if (!relation) return null;
    const index = relation.constraints.findIndex((c) => c.name === name);
    if (index < 0) return null;
    const [removed] = relation.constraints.splice(index, 1);
    if (removed.references && !relation.constraints.some((c) => c.references === removed.references)) {
      const key = this.resolve(table);
      if (key) this.relationByKey(removed.references)?.referencedBy.delete(key);
    }
    return removed;
  }
}
