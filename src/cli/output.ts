import pc from 'picocolors';

/** Where the CLI writes: injectable so commands can be tested without a terminal. */
export interface Output {
  /** Writes a line to standard output. */
  out(line?: string): void;
  /** Writes a line to standard error (progress, warnings, errors). */
  err(line?: string): void;
  /** True when colours may be used. */
  readonly color: boolean;
}

/** The process's own standard streams; colours only on a TTY (and never with NO_COLOR). */
export function processOutput(): Output {
  return {
    out: (line = '') => process.stdout.write(`${line}\n`),
    err: (line = '') => process.stderr.write(`${line}\n`),
    color: pc.isColorSupported && process.stdout.isTTY === true,
  };
}

/** Colour functions that are identity when `enabled` is false. */
export function palette(enabled: boolean) {
  const id = (s: string) => s;
  return {
    bold: enabled ? pc.bold : id,
    dim: enabled ? pc.dim : id,
    red: enabled ? pc.red : id,
    green: enabled ? pc.green : id,
    yellow: enabled ? pc.yellow : id,
    cyan: enabled ? pc.cyan : id,
    magenta: enabled ? pc.magenta : id,
  };
}

const ANSI = /\u001b\[[0-9;]*m/g;

function width(text: string): number {
  return text.replace(ANSI, '').length;
}

/** Renders rows as an aligned text table with a header line. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i] - width(cell))))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
