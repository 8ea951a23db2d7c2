import { analyzeSql } from '../../../src/analysis/classify/index.js';
import type { CapturedStatement, MigrationReport } from '../../../src/analysis/migration-types.js';
import type { TableStats, TargetFacts } from '../../../src/analysis/table-stats.js';
import type { Stage } from '../../../src/stages.js';

/** A captured statement, as analysis would report it. */
export interface StatementInput {
  readonly sql: string;
  readonly stepTransaction?: CapturedStatement['stepTransaction'];
  readonly inExplicitTransaction?: boolean;
  readonly operation?: CapturedStatement['operation'];
}

/** A migration report built from SQL, classified like a captured migration (tables created earlier are new). */
export async function report(
  name: string,
  statements: readonly (string | StatementInput)[],
  options: { stage?: Stage; transaction?: boolean; allowUnsafe?: unknown } = {},
): Promise<MigrationReport> {
  const inputs = statements.map((s) => (typeof s === 'string' ? { sql: s } : s));
  const analyses = await analyzeSql(inputs.map((s) => `${s.sql};`).join('\n'));
  const captured: CapturedStatement[] = inputs.map((s, i) => ({
    sql: s.sql,
    source: s.operation ? 'operation' : 'knex',
    ...(s.operation ? { operation: s.operation } : {}),
    stepTransaction: s.stepTransaction ?? 'inherit',
    statementTimeout: true,
    inExplicitTransaction: s.inExplicitTransaction ?? false,
    analysis: analyses[i],
  }));
  const allowUnsafe: Record<string, string> = {};
  if (options.allowUnsafe && typeof options.allowUnsafe === 'object' && !Array.isArray(options.allowUnsafe)) {
    for (const [id, reason] of Object.entries(options.allowUnsafe)) if (typeof reason === 'string' && reason.trim()) allowUnsafe[id] = reason;
  }
  return {
    name,
    file: null,
    direction: 'up',
    declaredStage: options.stage,
    stage: options.stage ?? 'pre-deploy',
    stageSource: options.stage ? 'file' : 'inferred',
    ambiguity: null,
    transaction: options.transaction ?? true,
    transactionDeclared: false,
    hasDown: true,
    allowUnsafe,
    declaredAllowUnsafe: options.allowUnsafe,
    statements: captured,
    error: null,
  };
}

/** Target facts with the given tables (`null`: not in the target). */
export function facts(tables: Record<string, Partial<TableStats> | null>, serverVersion: number | null = 150_004): TargetFacts {
  const map = new Map<string, TableStats | null>();
  for (const [name, stats] of Object.entries(tables)) {
    map.set(
      name,
      stats === null
        ? null
        : { table: name, kind: 'r', throughIndex: false, rows: 0, rowsSource: 'statistics', heapBytes: 8192, totalBytes: 16_384, indexes: 1, ...stats },
    );
  }
  return { serverVersion, tables: map, error: null };
}
