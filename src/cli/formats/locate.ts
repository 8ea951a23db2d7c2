/**
 * Where a finding lives in its migration file, for CI annotations: the file relative to the
 * repository root, and the line of the statement (or of `config` for an opt-out), else line 1.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CheckFinding, MigrationReport } from '../../analysis/migration-types.js';

/** A finding's place: a path relative to the repository root (forward slashes) and a 1-based line. */
export interface FindingLocation {
  readonly file: string | null;
  readonly line: number;
}

/** The folder paths in annotations are relative to: `$GITHUB_WORKSPACE`, else the git repository around `from`, else `from`. */
export function repositoryRoot(from: string = process.cwd()): string {
  const workspace = process.env.GITHUB_WORKSPACE;
  if (workspace && isInside(from, path.resolve(workspace))) return path.resolve(workspace);
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, '.git'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from);
  }
}

function isInside(child: string, parent: string): boolean {
  const relative = path.relative(parent, path.resolve(child));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Finds findings' lines in migration files, reading each file once. */
export class Locator {
  private readonly sources = new Map<string, string | null>();
  private readonly files: ReadonlyMap<string, string | null>;

  constructor(
    migrations: readonly MigrationReport[],
    private readonly root: string,
  ) {
    this.files = new Map(migrations.map((m) => [m.name, m.file]));
  }

  locate(finding: CheckFinding): FindingLocation {
    const absolute = finding.migration === null ? null : (this.files.get(finding.migration) ?? null);
    if (!absolute) return { file: null, line: 1 };
    const file = path.relative(this.root, absolute).split(path.sep).join('/');
    const source = this.source(absolute);
    return { file, line: source === null ? 1 : findLine(source, finding) };
  }

  private source(file: string): string | null {
    if (!this.sources.has(file)) {
      let text: string | null = null;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        text = null;
      }
      this.sources.set(file, text);
    }
    return this.sources.get(file) ?? null;
  }
}

function lineAt(source: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Words and identifiers of a SQL text, without quotes: `alter table "orders" add` → alter, table, orders, add. */
function sqlWords(sql: string): string[] {
  return [...sql.matchAll(/[A-Za-z_][\w$]*/g)].map((m) => m[0]);
}

const CONFIG_CODES = new Set(['invalid-allow-unsafe', 'invalid-stage']);

/** The 1-based line of a finding in its file's source: its statement, the table it names, its `config`, its `up`; else 1. */
export function findLine(source: string, finding: CheckFinding): number {
  if (CONFIG_CODES.has(finding.code) || finding.allowed) {
    const config = /\ballowUnsafe\b/.exec(source) ?? /\bconfig\b/.exec(source);
    if (config && (finding.code !== 'invalid-stage' || !/\bstage\b/.test(source))) return lineAt(source, config.index);
    const stage = /\bstage\s*:/.exec(source);
    if (stage) return lineAt(source, stage.index);
  }
  if (finding.statement) {
    // The statement as written in a knex.raw: its first words in order, whatever quotes and spaces lie between.
    const words = sqlWords(finding.statement);
    for (let count = Math.min(words.length, 8); count >= 3; count--) {
      const pattern = new RegExp(words.slice(0, count).map(escapeRegExp).join('[^A-Za-z0-9_$]+'), 'i');
      const match = pattern.exec(source);
      if (match) return lineAt(source, match.index);
    }
    // A schema-builder call: the line of the up function that names one of the statement's quoted
    // identifiers (its table) and shares the most words with it (`knex('orders').update({ status })`).
    const names = [...finding.statement.matchAll(/"((?:[^"]|"")+)"/g)].map((m) => m[1].replace(/""/g, '"'));
    const line = bestLine(source, names, words);
    if (line !== null) return line;
  }
  const up = /\b(?:exports\.up|function\s+up|up\s*[:=(])/.exec(source);
  return up ? lineAt(source, up.index) : 1;
}

/** The function a line range of `up` spans: from its definition to that of `down` when it follows. */
function upRange(lines: readonly string[]): [number, number] {
  const up = lines.findIndex((l) => /\b(?:exports\.up|function\s+up|up\s*[:=(])/.test(l));
  const down = lines.findIndex((l, i) => i > up && /\b(?:exports\.down|function\s+down|down\s*[:=(])/.test(l));
  return [Math.max(0, up), down > up ? down : lines.length];
}

function bestLine(source: string, names: readonly string[], words: readonly string[]): number | null {
  if (names.length === 0) return null;
  const lines = source.split('\n');
  const [from, to] = upRange(lines);
  const vocabulary = [...new Set(words.map((w) => w.toLowerCase()))];
  let best: { line: number; score: number } | null = null;
  for (let i = from; i < to; i++) {
    const line = lines[i];
    if (!names.some((name) => new RegExp(`(['"\`])${escapeRegExp(name)}\\1`).test(line))) continue;
    const lower = line.toLowerCase();
    const score = vocabulary.filter((word) => new RegExp(`(^|[^a-z0-9_$])${escapeRegExp(word)}($|[^a-z0-9_$])`).test(lower)).length;
    if (!best || score > best.score) best = { line: i + 1, score };
  }
  return best?.line ?? null;
}
