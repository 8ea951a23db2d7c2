import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { ConfigError } from '../../errors.js';
import { isStage, type Stage } from '../../stages.js';
import { PROJECT_FLAGS, stringFlag } from '../flags.js';
import { loadKnexfile } from '../knexfile.js';

const EXTENSIONS = ['js', 'cjs', 'mjs', 'ts'] as const;
type Extension = (typeof EXTENSIONS)[number];

function timestamp(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
}

/** The file a new migration starts from, with its stage declared. */
export function migrationTemplate(extension: Extension, stage: Stage | undefined): string {
  const stageLine = stage ? `stage: '${stage}'` : `// stage: 'pre-deploy', // or 'post-deploy'; inferred from the SQL when absent`;
  if (extension === 'ts') {
    return `import type { Knex } from 'knex';

export const config = {
  ${stageLine}
};

export async function up(knex: Knex): Promise<void> {
}

export async function down(knex: Knex): Promise<void> {
}
`;
  }
  if (extension === 'mjs') {
    return `/** @param {import('knex').Knex} knex */
export const config = {
  ${stageLine}
};

/** @param {import('knex').Knex} knex */
export async function up(knex) {
}

/** @param {import('knex').Knex} knex */
export async function down(knex) {
}
`;
  }
  return `exports.config = {
  ${stageLine}
};

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
};
`;
}

/** `knex-zd migrate:make NAME [--stage post-deploy] [-x ts]`: a new migration file with its stage. */
export const migrateMakeCommand: Command = {
  name: 'migrate:make',
  summary: 'Create a migration file, with its stage declared.',
  help: `Usage: knex-zd migrate:make NAME [--stage pre-deploy|post-deploy] [-x js|cjs|mjs|ts]

  --stage   the stage written into the file's config (default: none, inferred from the SQL)
  -x        the file extension (default: the knexfile's migrations.extension, else the knexfile's own)`,
  flags: { ...PROJECT_FLAGS, stage: { type: 'string' }, x: { type: 'string', short: 'x' } },
  async run({ values, positionals }, output) {
    const name = positionals[0];
    if (!name || !/^[\w-]+$/.test(name)) {
      throw new ConfigError(`migrate:make needs a NAME of letters, digits, _ and -; got ${JSON.stringify(name ?? '')}.`);
    }
    const stage = stringFlag(values, 'stage');
    if (stage !== undefined && !isStage(stage)) {
      throw new ConfigError(`--stage must be 'pre-deploy' or 'post-deploy'; got ${JSON.stringify(stage)}.`);
    }
    const knexfile = await loadKnexfile(values);
    const migrations = knexfile.config.migrations ?? {};
    const configured = (migrations as { extension?: string }).extension ?? path.extname(knexfile.path).slice(1).replace(/^c?ts$|^mts$/, 'ts');
    const extension = (stringFlag(values, 'x') ?? configured) as Extension;
    if (!EXTENSIONS.includes(extension)) {
      throw new ConfigError(`-x must be one of ${EXTENSIONS.join(', ')}; got ${JSON.stringify(extension)}.`);
    }
    const directory = path.resolve(([] as string[]).concat((migrations.directory as string | string[] | undefined) ?? './migrations')[0]);
    mkdirSync(directory, { recursive: true });
    const file = path.join(directory, `${timestamp()}_${name}.${extension}`);
    if (existsSync(file)) throw new ConfigError(`${file} already exists.`);
    writeFileSync(file, migrationTemplate(extension, stage));
    output.out(`Created migration: ${file}`);
    return EXIT.ok;
  },
};
