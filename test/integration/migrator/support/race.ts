/**
 * Two real `knex-zd migrate:latest` processes (the built CLI) started together on a fresh database,
 * and what they left behind. Shared by the CI test (a few races) and `npm run stress:races` (many).
 */
import knexFactory, { type Knex } from 'knex';
import { createTestDatabase } from '../../../helpers/db.js';
import { createProject, type CliResult, type TestProject } from '../../../helpers/project.js';

/**
 * A transactional migration, a slow one, and a non-transactional one (a concurrent index build,
 * which knex-zd runs outside a transaction by itself): each writes one row to `race_log` per run,
 * so a migration applied twice shows as two rows even when knex_migrations hides it.
 */
export const RACE_MIGRATIONS: Readonly<Record<string, string>> = {
  'migrations/001_create_items.js': `
exports.up = async (knex) => {
  await knex.schema.createTable('items', (t) => { t.increments('id'); t.text('name'); });
  await knex.schema.createTable('race_log', (t) => { t.increments('id'); t.text('migration').notNullable(); t.integer('pid'); });
  await knex('race_log').insert({ migration: '001', pid: process.pid });
};
exports.down = async (knex) => {
  await knex.schema.dropTable('race_log');
  await knex.schema.dropTable('items');
};
`,
  'migrations/002_slow.js': `
exports.up = async (knex) => {
  await knex.raw('select pg_sleep(0.5)');
  await knex.schema.alterTable('items', (t) => { t.text('note'); });
  await knex('race_log').insert({ migration: '002', pid: process.pid });
};
exports.down = (knex) => knex.schema.alterTable('items', (t) => { t.dropColumn('note'); });
`,
  'migrations/003_index_items.js': `
exports.up = async (knex) => {
  await knex.raw('CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_idx ON items (name)');
  await knex('race_log').insert({ migration: '003', pid: process.pid });
};
exports.down = (knex) => knex.raw('DROP INDEX CONCURRENTLY IF EXISTS items_name_idx');
`,
};

/** The migrations of {@link RACE_MIGRATIONS}, by name. */
export const RACE_NAMES = Object.keys(RACE_MIGRATIONS).map((file) => file.replace(/^migrations\//, ''));

/** A project whose knexfile connects to `$ZD_RACE_DATABASE_URL`, so that one folder serves every race. */
export async function createRaceProject(): Promise<TestProject> {
  return createProject({
    'knexfile.js': `module.exports = {
  client: 'pg',
  connection: process.env.ZD_RACE_DATABASE_URL,
  pool: { min: 0, max: 4 },
  migrations: { directory: './migrations' },
  // ZD_RACE_SHADOW=off analyses in capture mode: the race is about the lock, and is faster so.
  zeroDowntime: process.env.ZD_RACE_SHADOW === 'off' ? { shadow: false } : {},
};
`,
    ...RACE_MIGRATIONS,
  });
}

/** Something a race got wrong. */
export type RaceProblem = 'exit-non-zero' | 'applied-twice' | 'not-applied' | 'lock-left' | 'rerun-fails';

/** How one race ended: `ok`, or every problem found (the first is the verdict). */
export interface RaceOutcome {
  readonly verdict: 'ok' | RaceProblem;
  readonly problems: ReadonlyArray<{ readonly kind: RaceProblem; readonly detail: string }>;
  readonly runs: readonly CliResult[];
}

interface Leftovers {
  readonly knexMigrations: Record<string, number>;
  readonly sideEffects: Record<string, number>;
  readonly knexLockRows: Array<{ is_locked: number }>;
  readonly zdLockRows: number | null;
}

async function countBy(knex: Knex, table: string, column: string): Promise<Record<string, number>> {
  if (!(await knex.schema.hasTable(table))) return {};
  const result = await knex.raw<{ rows: Array<{ key: string; n: number }> }>('SELECT ?? AS key, count(*)::int AS n FROM ?? GROUP BY 1', [column, table]);
  return Object.fromEntries(result.rows.map((r) => [r.key, r.n]));
}

async function leftovers(url: string): Promise<Leftovers> {
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  try {
    const knexLockRows = (await knex.schema.hasTable('knex_migrations_lock'))
      ? (await knex.raw<{ rows: Array<{ is_locked: number }> }>('SELECT is_locked FROM knex_migrations_lock ORDER BY 1')).rows
      : [];
    const zdLockRows = (await knex.schema.hasTable('knex_zd_lock'))
      ? (await knex.raw<{ rows: Array<{ n: number }> }>('SELECT count(*)::int AS n FROM knex_zd_lock')).rows[0].n
      : null;
    return {
      knexMigrations: await countBy(knex, 'knex_migrations', 'name'),
      sideEffects: await countBy(knex, 'race_log', 'migration'),
      knexLockRows,
      zdLockRows,
    };
  } finally {
    await knex.destroy();
  }
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '') ?? '';
}

/**
 * Runs one race on a fresh database: two `migrate:latest` started together, then a plain rerun.
 * The database is dropped afterwards.
 */
export async function runRace(project: TestProject, options: { readonly shadow?: boolean } = {}): Promise<RaceOutcome> {
  const db = await createTestDatabase('zd_race');
  try {
    const env = { ZD_RACE_DATABASE_URL: db.url, ...(options.shadow === false ? { ZD_RACE_SHADOW: 'off' } : {}) };
    const runs = await Promise.all([project.run(['migrate:latest'], env), project.run(['migrate:latest'], env)]);
    const left = await leftovers(db.url);
    const problems: Array<{ kind: RaceProblem; detail: string }> = [];
    const counts = `knex_migrations: ${JSON.stringify(left.knexMigrations)}; race_log: ${JSON.stringify(left.sideEffects)}`;
    const sides = ['001', '002', '003'];
    if (RACE_NAMES.some((n) => (left.knexMigrations[n] ?? 0) > 1) || sides.some((m) => (left.sideEffects[m] ?? 0) > 1)) {
      problems.push({ kind: 'applied-twice', detail: counts });
    }
    for (const run of runs.filter((r) => r.code !== 0)) problems.push({ kind: 'exit-non-zero', detail: `exit ${run.code}: ${firstLine(run.stderr)}` });
    if (RACE_NAMES.some((n) => left.knexMigrations[n] === undefined) || sides.some((m) => left.sideEffects[m] === undefined)) {
      problems.push({ kind: 'not-applied', detail: counts });
    }
    if (left.knexLockRows.length !== 1 || left.knexLockRows[0].is_locked !== 0 || (left.zdLockRows ?? 0) !== 0) {
      problems.push({ kind: 'lock-left', detail: `knex_migrations_lock: ${JSON.stringify(left.knexLockRows)}; knex_zd_lock rows: ${left.zdLockRows}` });
    }
    const rerun = await project.run(['migrate:latest'], env);
    if (rerun.code !== 0 || !/Already up to date/.test(rerun.stdout)) {
      problems.push({ kind: 'rerun-fails', detail: `exit ${rerun.code}: ${firstLine(rerun.stderr) || firstLine(rerun.stdout)}` });
    }
    return { verdict: problems[0]?.kind ?? 'ok', problems, runs: [...runs, rerun] };
  } finally {
    await db.drop();
  }
}
