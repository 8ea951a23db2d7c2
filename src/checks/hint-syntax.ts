import { readFileSync } from 'node:fs';
import path from 'node:path';

/** How a migration file is written: ES modules (`import`, `export`) or CommonJS (`require`, `exports`). */
export type ModuleKind = 'esm' | 'commonjs';

/** The operation builders that hints call, as exported by the package (a unit test keeps the list whole). */
export const HINT_OPERATIONS: readonly string[] = Object.freeze([
  'saferRenameTablePart1',
  'saferRenameTablePart2',
  'revertSaferRenameTablePart1',
  'revertSaferRenameTablePart2',
  'saferRenameColumnPart1',
  'saferRenameColumnPart2',
  'revertSaferRenameColumnPart1',
  'revertSaferRenameColumnPart2',
  'addNullableColumn',
  'addColumnWithDefault',
  'prepareDropColumn',
  'dropColumn',
  'dropTable',
  'addIndexConcurrently',
  'dropIndexConcurrently',
  'addUniqueConstraint',
  'addCheckConstraint',
  'addForeignKey',
  'setNotNull',
  'dropNotNull',
  'backfill',
]);

const PACKAGE = 'knex-zero-downtime';
const packageTypes = new Map<string, string | null>();

/** The `type` of the package.json nearest to `dir` (node's rule for `.js` files), or null. */
function packageType(dir: string): string | null {
  const cached = packageTypes.get(dir);
  if (cached !== undefined) return cached;
  let type: string | null = null;
  try {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { type?: unknown };
    type = typeof pkg.type === 'string' ? pkg.type : 'commonjs';
  } catch {
    const parent = path.dirname(dir);
    type = parent === dir ? null : packageType(parent);
  }
  packageTypes.set(dir, type);
  return type;
}

/**
 * The module kind of a migration file, as node decides it: `.cjs` is CommonJS; `.mjs` and
 * TypeScript (written with `import` whatever it compiles to) are ES modules; `.js` follows the
 * nearest package.json's `type`. `null` when unknown (no file: a custom migration source).
 */
export function moduleKindOf(file: string | null): ModuleKind | null {
  if (file === null) return null;
  const ext = path.extname(file);
  if (ext === '.cjs') return 'commonjs';
  if (['.mjs', '.ts', '.mts', '.cts'].includes(ext)) return 'esm';
  if (ext !== '.js') return null;
  return packageType(path.dirname(path.resolve(file))) === 'module' ? 'esm' : 'commonjs';
}

/**
 * A hint (the safe alternative, written as code) in the syntax of the migration file it is for:
 * the operations it calls imported from the package (`import { … } from` or `const { … } =
 * require(…)`), and `export const config` / `export async function up` as `exports.config` /
 * `exports.up` in CommonJS. Unchanged when the kind is unknown.
 */
export function hintForModule(hint: string, kind: ModuleKind | null): string {
  if (kind === null) return hint;
  const used = HINT_OPERATIONS.filter((name) => new RegExp(`\\b${name}\\(knex\\b`).test(hint));
  const body =
    kind === 'esm'
      ? hint
      : hint
          .replace(/\bexport const config = /g, 'exports.config = ')
          .replace(/\bexport async function (\w+)\(/g, 'exports.$1 = async function $1(');
  if (used.length === 0) return body;
  const names = used.join(', ');
  const load = kind === 'esm' ? `import { ${names} } from '${PACKAGE}';` : `const { ${names} } = require('${PACKAGE}');`;
  return `${load}\n${body}`;
}
