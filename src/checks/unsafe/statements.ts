import { parseSync } from 'libpg-query';
import type { CapturedStatement, MigrationReport } from '../../analysis/migration-types.js';

/** A table as the analysis reports it, normalised for comparisons (`schema.table` or `table`). */
export function tableKey(schema: string | null, table: string): string {
  return schema ? `${schema}.${table}` : table;
}

/** Tables created by the migration before statement `index` (exempt: nobody else uses them yet). */
export function tablesCreatedBefore(report: MigrationReport, index: number): Set<string> {
  const created = new Set<string>();
  report.statements.slice(0, index).forEach((s) => {
    for (const o of s.analysis.objects) {
      if (o.effect === 'create' && o.column === null) {
        created.add(tableKey(o.schema, o.table));
        created.add(o.table);
      }
    }
  });
  return created;
}

/** A constraint an ALTER TABLE adds NOT VALID or validates. */
export interface ConstraintAction {
  readonly table: string;
  readonly constraint: string;
  readonly kind: 'add-not-valid' | 'validate';
}

type Node = Record<string, unknown>;

/** The NOT VALID additions and VALIDATEs of a statement, read from the parse tree. */
export function constraintActions(sql: string): ConstraintAction[] {
  let parsed: { stmts?: { stmt?: Node }[] };
  try {
    parsed = parseSync(sql);
  } catch {
    return [];
  }
  const out: ConstraintAction[] = [];
  for (const { stmt } of parsed.stmts ?? []) {
    const alter = stmt?.AlterTableStmt as Node | undefined;
    if (!alter) continue;
    const relation = alter.relation as { schemaname?: string; relname?: string } | undefined;
    if (!relation?.relname) continue;
    const table = tableKey(relation.schemaname ?? null, relation.relname);
    for (const cmdNode of (alter.cmds as Node[] | undefined) ?? []) {
      const cmd = cmdNode.AlterTableCmd as Node | undefined;
      if (!cmd) continue;
      if (cmd.subtype === 'AT_ValidateConstraint' && typeof cmd.name === 'string') {
        out.push({ table, constraint: cmd.name, kind: 'validate' });
      }
      const constraint = (cmd.def as Node | undefined)?.Constraint as { conname?: string; skip_validation?: boolean } | undefined;
      if (cmd.subtype === 'AT_AddConstraint' && constraint?.skip_validation && constraint.conname) {
        out.push({ table, constraint: constraint.conname, kind: 'add-not-valid' });
      }
    }
  }
  return out;
}

/** True when two statements of a migration run in one transaction. */
export function sameTransaction(report: MigrationReport, a: CapturedStatement, b: CapturedStatement): boolean {
  if (a.stepTransaction !== 'inherit' || b.stepTransaction !== 'inherit') return false;
  return report.transaction || (a.inExplicitTransaction && b.inExplicitTransaction);
}

/** Shortens a statement for a message. */
export function short(sql: string, max = 160): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
