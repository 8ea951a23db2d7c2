import type { CheckFinding } from '../../analysis/migration-types.js';

/** A finding as plain text for an annotation (SARIF, GitHub): its message, then its opt-out, small-table note or safe alternative. */
export function findingText(finding: CheckFinding): string {
  const parts = [finding.message];
  if (finding.allowed) parts.push(`Allowed by config.allowUnsafe: ${finding.allowed.reason}`);
  else if (finding.smallTable) parts.push(`Small table: ${finding.smallTable.note}`);
  else if (finding.hint) parts.push(`Safe alternative:\n${finding.hint}`);
  return parts.join('\n\n');
}
