import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { ConfigError } from '../../errors.js';
import { PROJECT_FLAGS, stringFlag } from '../flags.js';
import { KNEXFILE_NAMES } from '../knexfile.js';

const EXTENSIONS = ['js', 'cjs', 'mjs', 'ts'] as const;
type Extension = (typeof EXTENSIONS)[number];

/** How the knexfile is written: its extension and module system, and the database of its default URL. */
export interface KnexfileTemplateOptions {
  readonly extension: Extension;
  /** A `.js` knexfile in a package with `"type": "module"` must be ESM. */
  readonly esm: boolean;
  /** The database of the default connection (when `DATABASE_URL` is not set). */
  readonly database: string;
}

/** The PostgreSQL knexfile `knex-zd init` writes, with the `zeroDowntime` option's keys commented out. */
export function knexfileTemplate({ extension, esm, database }: KnexfileTemplateOptions): string {
  const body = `{
  client: 'pg',
  connection: process.env.DATABASE_URL || 'postgres://postgres@localhost:5432/${database}',
  pool: { min: 0, max: 10 },
  migrations: { directory: './migrations', tableName: 'knex_migrations' },
  seeds: { directory: './seeds' },
  // knex-zero-downtime's options (README, "The knexfile option"); uncomment what you need.
  zeroDowntime: {
    // stages: { override: { '20250101000000_drop_legacy.js': 'post-deploy' }, fallback: 'pre-deploy' },
    // timeouts: { lock: '2s', statement: '15min', retries: 5 },
    // quorum: { backend: 'redis', url: 'redis://127.0.0.1:6379' }, // default: a table in this database
    // checks: { unsafe: 'error', 'missing-down': 'warning' },
    // shadow: 'auto', // or the URL of a scratch database, or false: analyse by capture only
    // hotUpgrade: true,
  },
}`;
  if (extension === 'ts') {
    return `import type { Knex } from 'knex';
import type {} from 'knex-zero-downtime'; // adds zeroDowntime to Knex.Config

const config: Knex.Config = ${body};

export default config;
`;
  }
  const header = `/// <reference types="knex-zero-downtime/types" />\n\n/** @type {import('knex').Knex.Config} */\n`;
  if (extension === 'mjs' || (extension === 'js' && esm)) return `${header}const config = ${body};\n\nexport default config;\n`;
  return `${header}module.exports = ${body};\n`;
}

/** True when the nearest package.json above `dir` says `"type": "module"`. */
function isEsmPackage(dir: string): boolean {
  for (let current = dir; ; current = path.dirname(current)) {
    const file = path.join(current, 'package.json');
    if (existsSync(file)) {
      try {
        return (JSON.parse(readFileSync(file, 'utf8')) as { type?: unknown }).type === 'module';
      } catch {
        return false;
      }
    }
    if (path.dirname(current) === current) return false;
  }
}

/** `knex-zd init [-x js|cjs|mjs|ts] [--cwd DIR]`: a PostgreSQL knexfile with the zeroDowntime option. */
export const initCommand: Command = {
  name: 'init',
  summary: 'Create a PostgreSQL knexfile with the zeroDowntime option (never overwrites one).',
  help: `Usage: knex-zd init [-x js|cjs|mjs|ts] [--cwd DIR]

Writes knexfile.js (or knexfile.<x>) in the folder: client pg, the connection from DATABASE_URL
(else postgres://postgres@localhost:5432/<folder name>), ./migrations, and a zeroDowntime block
with its options commented out. A .js knexfile is ESM in a package with "type": "module".
Refuses (exit 2) when the folder already has a knexfile. knex's other flags are accepted and
ignored, as knex init does.
  -x      the knexfile's extension (default js)
  --cwd   the folder to write it in (default: the current one)`,
  flags: { ...PROJECT_FLAGS, x: { type: 'string', short: 'x' } },
  run({ values }, output) {
    const extension = (stringFlag(values, 'x') ?? 'js').toLowerCase();
    if (!EXTENSIONS.includes(extension as Extension)) {
      throw new ConfigError(`-x must be one of ${EXTENSIONS.join(', ')}; got ${JSON.stringify(extension)}.`);
    }
    const given = stringFlag(values, 'cwd');
    const dir = path.resolve(given ?? '.');
    if (!existsSync(dir)) throw new ConfigError(`--cwd ${given}: no such directory.`);
    const existing = KNEXFILE_NAMES.find((name) => existsSync(path.join(dir, name)));
    if (existing) {
      throw new ConfigError(
        `${path.join(dir, existing)} already exists: knex-zd init never overwrites a knexfile. ` +
          'Add the zeroDowntime option to it by hand (README, "The knexfile option").',
      );
    }
    const database = path.basename(dir).toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'app';
    const file = path.join(dir, `knexfile.${extension}`);
    writeFileSync(file, knexfileTemplate({ extension: extension as Extension, esm: isEsmPackage(dir), database }), { flag: 'wx' });
    output.out(`Created ${file}`);
    return Promise.resolve(EXIT.ok);
  },
};
