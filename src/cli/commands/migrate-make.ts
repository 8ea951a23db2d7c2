import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { ConfigError } from '../../errors.js';
import { isStage, type Stage } from '../../stages.js';
import { PROJECT_FLAGS, stringFlag } from '../flags.js';
import { settingsOf } from '../context.js';
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

/** `knex-zd migrate:make NAME [--stage post-deploy] [-x ts] [--stub FILE]`: a new migration file with its stage. */
export const migrateMakeCommand: Command = {
  name: 'migrate:make',
  summary: 'Create a migration file, with its stage declared.',
  help: `Usage: knex-zd migrate:make NAME [--stage pre-deploy|post-deploy] [-x js|cjs|mjs|ts] [--stub FILE]

  --stage   the stage written into the file's config (default: none, inferred from the SQL)
  -x        the file extension (default: the knexfile's migrations.extension, else the knexfile's own)
  --stub    a stub to start from instead of knex-zd's template, as knex migrate:make --stub: a path
            with a /, else a file name in the migrations directory (default: migrations.stub); it is
            rendered by knex with migrations.variables. Declare the stage in the stub: --stage only
            writes knex-zd's own template`,
  flags: { ...PROJECT_FLAGS, stage: { type: 'string' }, x: { type: 'string', short: 'x' }, stub: { type: 'string' } },
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
    settingsOf(knexfile);
    const migrations = knexfile.config.migrations ?? {};
    const configured =
      (migrations as { extension?: string }).extension ?? (knexfile.path ? path.extname(knexfile.path).slice(1).replace(/^c?ts$|^mts$/, 'ts') : 'js');
    const extension = (stringFlag(values, 'x') ?? configured) as Extension;
    if (!EXTENSIONS.includes(extension)) {
      throw new ConfigError(`-x must be one of ${EXTENSIONS.join(', ')}; got ${JSON.stringify(extension)}.`);
    }
    // As knex's generator: the last directory when there are several.
    const directories = ([] as string[]).concat((migrations.directory as string | string[] | undefined) ?? './migrations');
    const directory = path.resolve(directories[directories.length - 1]);
    const stub = stubOf(stringFlag(values, 'stub'), migrations.stub, directory);
    if (stub !== undefined) {
      if (stage !== undefined) {
        throw new ConfigError(
          `--stage writes knex-zd's own template, and ${stringFlag(values, 'stub') !== undefined ? '--stub' : 'migrations.stub'} ${stub} replaces it: ` +
            `declare the stage in the stub instead:\n\n    export const config = { stage: '${stage}' };`,
        );
      }
      // knex's own generator renders the stub, with migrations.variables, exactly as knex migrate:make does.
      const knex = knexfile.knexFactory(knexfile.config);
      try {
        const file = await knex.migrate.make(name, { directory, extension, stub });
        output.out(`Created migration: ${file}`);
      } finally {
        await knex.destroy();
      }
      return EXIT.ok;
    }
    mkdirSync(directory, { recursive: true });
    const file = path.join(directory, `${timestamp()}_${name}.${extension}`);
    if (existsSync(file)) throw new ConfigError(`${file} already exists.`);
    writeFileSync(file, migrationTemplate(extension, stage));
    output.out(`Created migration: ${file}`);
    return EXIT.ok;
  },
};

/** The stub file of `--stub` (knex's rule: a path when it has a /, else a name in the migrations directory), else the knexfile's. */
function stubOf(flag: string | undefined, configured: string | undefined, directory: string): string | undefined {
  if (flag === undefined && configured === undefined) return undefined;
  const stub = flag === undefined ? path.resolve(configured!) : flag.includes('/') ? path.resolve(flag) : path.join(directory, flag);
  if (!existsSync(stub)) {
    throw new ConfigError(`${flag === undefined ? 'migrations.stub' : '--stub'} ${flag ?? configured}: no such file (looked for ${stub}).`);
  }
  return stub;
}
