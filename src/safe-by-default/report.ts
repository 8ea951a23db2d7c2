import type { MigrationReport } from '../analysis/migration-types.js';
import type { SafeFormDirective } from './directive.js';

/** Where each safe form of a migration begins among its statements, and those with no step left. */
export function safeFormPlaces(m: MigrationReport): { readonly starts: ReadonlyMap<number, SafeFormDirective>; readonly done: readonly SafeFormDirective[] } {
  const starts = new Map<number, SafeFormDirective>();
  const seen = new Set<number>();
  m.statements.forEach((s, i) => {
    if (!s.safeForm || seen.has(s.safeForm.ordinal)) return;
    seen.add(s.safeForm.ordinal);
    starts.set(i, s.safeForm);
  });
  return { starts, done: (m.safeForms ?? []).filter((d) => !seen.has(d.ordinal)) };
}

/** The plan's line about a migration's safe forms, or `null` when it has none. */
export function safeFormSummary(m: MigrationReport): string | null {
  const count = m.safeForms?.length ?? 0;
  if (count === 0) return null;
  return `safeByDefault: ${count === 1 ? '1 statement runs' : `${count} statements run`} in ${count === 1 ? 'its' : 'their'} safe form, so the migration runs outside a transaction (each statement commits on its own).`;
}
