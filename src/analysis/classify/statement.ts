/** The state of one classification: what earlier statements of the input created, and the analysis of the statement being built. */
import type { Stage } from '../../stages.js';
import type { ColumnType } from '../column-types.js';
import { parseErrorFinding, unclassifiedFinding } from '../findings.js';
import type { TableName } from '../findings.js';
import { LockSet } from '../lock-rules.js';
import type { SourceText } from '../parser.js';
import type { ActionAnalysis, ColumnChange, Finding, LockMode, ObjectEffect, ObjectRef, StatementAnalysis } from '../types.js';
import type { ModelColumn, SchemaModel } from '../catalog/schema-model.js';

/** What earlier statements of the same input created, for the statements after them. */
export class InputState {
  private readonly tables = new Set<string>();
  private readonly columns = new Set<string>();
  private readonly indexes = new Set<string>();
  private readonly types = new Map<string, ColumnType>();

  /**
   * @param model the catalog as it stands before the statements (and updated by them), when the
   *   caller loaded one; without it, only what the statements themselves say is known.
   */
  constructor(
    newTables: ReadonlySet<string> | undefined,
    newColumns?: ReadonlySet<string>,
    readonly model: SchemaModel | null = null,
  ) {
    for (const table of newTables ?? []) this.tables.add(table);
    for (const key of newColumns ?? []) {
      const dot = key.lastIndexOf('.');
      if (dot > 0) this.columns.add(`${key.slice(0, dot)}\u0000${key.slice(dot + 1)}`);
    }
  }

  addTable(table: TableName): void {
    this.tables.add(table.display);
    this.tables.add(table.table);
  }

  isNewTable(table: TableName): boolean {
    return this.tables.has(table.display) || this.tables.has(table.table);
  }

  addColumn(table: TableName, column: string, type: ColumnType | null): void {
    this.columns.add(columnKey(table, column));
    this.setType(table, column, type);
  }

  isNewColumn(table: TableName, column: string): boolean {
    return this.isNewTable(table) || this.columns.has(columnKey(table, column));
  }

  typeOf(table: TableName, column: string): ColumnType | null {
    return this.types.get(columnKey(table, column)) ?? this.model?.column(table, column)?.type ?? null;
  }

  /** What the catalog says of a column before this statement: `null` when it lacks it, `undefined` when nothing knows. */
  columnFacts(table: TableName, column: string): ModelColumn | null | undefined {
    return this.model?.column(table, column);
  }

  setType(table: TableName, column: string, type: ColumnType | null): void {
    if (type) this.types.set(columnKey(table, column), type);
    else this.types.delete(columnKey(table, column));
  }

  addIndex(name: string): void {
    this.indexes.add(name);
  }

  isNewIndex(name: string): boolean {
    return this.indexes.has(name);
  }
}

export function columnKey(table: TableName, column: string): string {
  return `${table.display}\u0000${column}`;
}

/** Accumulates the analysis of one statement. */
export class StatementBuilder {
  kind = 'Unknown';
  summary = '';
  classified = true;
  transactional = true;
  readonly locks = new LockSet();
  readonly actions: ActionAnalysis[] = [];
  readonly objects: ObjectRef[] = [];
  readonly findings: Finding[] = [];
  /** Foreign keys the statement adds (for the index check once the migration is done). */
  readonly foreignKeys: Array<{ table: TableName; columns: string[]; refTable: TableName }> = [];

  constructor(
    readonly sql: string,
    readonly source: SourceText,
    readonly end: number,
    readonly input: InputState,
  ) {}

  action(action: string, stage: Stage | null, lock: LockMode | null, rewrites = false, scans = false, change?: ColumnChange): void {
    this.actions.push(change ? { action, stage, lock, rewrites, scans, change } : { action, stage, lock, rewrites, scans });
  }

  lock(relation: string, mode: LockMode): void {
    this.locks.add(relation, mode);
  }

  object(table: TableName, column: string | null, effect: ObjectEffect, renamedTo?: string): void {
    const ref: ObjectRef = { schema: table.schema, table: table.table, column, effect };
    this.objects.push(renamedTo === undefined ? ref : { ...ref, renamedTo });
  }

  finding(finding: Finding): void {
    this.findings.push(finding);
  }

  unclassified(kind: string): void {
    this.classified = false;
    this.finding(unclassifiedFinding(kind));
  }

  /** Source text from a node's location to the end of the statement. */
  textFrom(location: number | undefined): string {
    return location === undefined ? '' : this.source.slice(location, this.end);
  }

  build(): StatementAnalysis {
    const stages = new Set(this.actions.map((action) => action.stage).filter((stage) => stage !== null));
    const stage = stages.size === 0 ? null : stages.size > 1 ? 'mixed' : [...stages][0];
    const { lock, relation } = this.locks.strongest();
    return {
      sql: this.sql,
      kind: this.kind,
      summary: this.summary,
      classified: this.classified,
      stage,
      lock,
      relation,
      locks: this.locks.list(),
      rewrites: this.actions.some((action) => action.rewrites),
      scans: this.actions.some((action) => action.scans),
      transactional: this.transactional,
      objects: dedupeObjects(this.objects),
      actions: this.actions,
      findings: this.findings,
      ...(this.foreignKeys.length > 0 ? { foreignKeys: this.foreignKeys } : {}),
    };
  }
}

export function parseErrorAnalysis(sql: string, message: string): StatementAnalysis {
  return {
    sql,
    kind: 'ParseError',
    summary: 'unparseable SQL',
    classified: false,
    stage: null,
    lock: null,
    relation: null,
    locks: [],
    rewrites: false,
    scans: false,
    transactional: true,
    objects: [],
    actions: [],
    findings: [parseErrorFinding(message)],
  };
}

export function dedupeObjects(objects: readonly ObjectRef[]): ObjectRef[] {
  const seen = new Set<string>();
  return objects.filter((ref) => {
    const key = [ref.schema, ref.table, ref.column, ref.effect, ref.renamedTo].join('\u0000');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
