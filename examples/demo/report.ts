/** Formatting of the demo's results: a table per release, and the progress line. */
import pc from 'picocolors';
import type { PhaseResult, SideName, SideStats } from './player.js';

const SIDES: readonly SideName[] = ['old', 'new'];

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

function sideCells(stats: SideStats | undefined): string[] {
  if (!stats) return ['–', '', ''];
  const failed = stats.failed > 0 ? pc.red(pc.bold(count(stats.failed))) : pc.green('0');
  return [count(stats.queries), failed, ms(stats.longestStallMs)];
}

 
const ANSI = /\u001b\[[0-9;]*m/g;
const visible = (text: string) => text.replace(ANSI, '').length;
const padStart = (text: string, width: number) => ' '.repeat(Math.max(0, width - visible(text))) + text;
const padEnd = (text: string, width: number) => text + ' '.repeat(Math.max(0, width - visible(text)));

/** Header and rows of a release's table: per mode and phase, the migration time and each side's numbers. */
export function formatRelease(rows: ReadonlyArray<{ mode: string; results: readonly PhaseResult[] }>): string {
  const widths = [12, 16, 10, 9, 7, 9, 9, 7, 9];
  const header = ['', 'phase', 'migration', 'queries', 'failed', 'stall', 'queries', 'failed', 'stall'];
  const lines: string[] = [];
  lines.push(pc.dim(`${' '.repeat(widths[0] + widths[1] + widths[2] + 3)}${padEnd('  old code', 27)}  new code`));
  lines.push(pc.dim(header.map((h, i) => (i < 2 ? padEnd(h, widths[i]) : padStart(h, widths[i]))).join(' ')));
  for (const { mode, results } of rows) {
    results.forEach((phase, index) => {
      const migration = phase.workMs === null ? '–' : phase.workError ? pc.red('failed') : ms(phase.workMs);
      const cells = [index === 0 ? pc.bold(mode) : '', phase.name, migration, ...SIDES.flatMap((s) => sideCells(phase.sides[s]))];
      lines.push(cells.map((c, i) => (i < 2 ? padEnd(c, widths[i]) : padStart(c, widths[i]))).join(' '));
    });
  }
  return lines.join('\n');
}

/** The most frequent failure messages of a run, one line each. */
export function formatFailures(results: readonly PhaseResult[], limit = 3): string[] {
  const all = new Map<string, number>();
  for (const phase of results) {
    for (const side of SIDES) {
      for (const [message, n] of phase.sides[side]?.errors ?? []) {
        const key = `${side} code: ${message}`;
        all.set(key, (all.get(key) ?? 0) + n);
      }
    }
  }
  return [...all.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([message, n]) => `${count(n)} × ${message}`);
}

/** The progress line of a running phase. */
export function formatProgress(mode: string, phase: string, sides: Partial<Record<SideName, SideStats>>, elapsedMs: number): string {
  const parts = SIDES.filter((s) => sides[s]).map((s) => {
    const stats = sides[s]!;
    const failed = stats.failed > 0 ? pc.red(`${count(stats.failed)} failed`) : '0 failed';
    return `${s}: ${count(stats.queries)} queries, ${failed}, stall ${ms(stats.longestStallMs)}`;
  });
  return `  ${mode} · ${phase} · ${(elapsedMs / 1000).toFixed(1)} s · ${parts.join(' · ')}`;
}
