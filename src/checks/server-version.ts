import type { Finding } from '../analysis/types.js';

/** `150004` → `15.4`; `90624` → `9.6.24`. */
export function versionText(serverVersion: number): string {
  const major = Math.floor(serverVersion / 10_000);
  if (major >= 10) return `${major}.${serverVersion % 10_000}`;
  return `${Math.floor(serverVersion / 10_000)}.${Math.floor(serverVersion / 100) % 100}.${serverVersion % 100}`;
}

/**
 * A statement finding whose safe alternative needs a newer server than the target's: the hint
 * says so, instead of offering SQL the server refuses. The classifier knows no version; the
 * plan reads it once from the target (`server_version_num`).
 */
export function forServerVersion(finding: Finding, serverVersion: number | null): Finding {
  if (serverVersion === null) return finding;
  const needs: Readonly<Record<string, number>> = { 'reindex-blocking': 120_000, 'detach-partition-blocking': 140_000 };
  const minimum = needs[finding.code];
  if (minimum === undefined || serverVersion >= minimum) return finding;
  return {
    ...finding,
    hint:
      `// The target server is PostgreSQL ${versionText(serverVersion)}: CONCURRENTLY needs ${versionText(minimum).replace(/\.0$/, '')} or later.\n` +
      `// Run it in a maintenance window (or upgrade first); on a newer server it would be:\n${finding.hint ?? ''}`,
  };
}
