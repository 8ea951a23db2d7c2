/**
 * Planning benchmark: how long knex-zd takes to load, capture, classify and check N pending
 * migrations of realistic kinds (the issue's target: under 10 s for 1,000), against knex's own
 * `migrate.list()` on the same files (loading them only), measured in the same run.
 *
 *   node --import tsx bench/planning.ts [counts=1000,5000]
 *
 * Measurements per count: `createStagedMigrator(knex).planLatest({ preDeploy: true })` in
 * process in capture mode and in shadow mode (up to 1,000 migrations), and
 * `knex-zd migrate:plan --pre-deploy --json` end to end in capture mode (process start included).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import { parseSettings } from '../src/config.js';
import { createStagedMigrator } from '../src/migrator/staged-migrator.js';
import { BACKSTAGE_SETS, migrationsOf, type CorpusSet } from '../test/corpus/backstage.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'dist/cli/bin.js');

/** One measurement: planning `migrations` pending migrations. */
export interface PlanningBenchRow {
  /** What was planned: `generated` migrations, or a corpus set. */
  readonly set: string;
  readonly migrations: number;
  /** `planLatest({ preDeploy: true })` in process in capture mode (`shadow: false`): load, capture, classify, checks. */
  readonly planMs: number;
  /** The same in shadow mode: the migrations run and traced in a temporary database (`null`: not measured, above 1,000 migrations). */
  readonly shadowMs: number | null;
  /** `knex-zd migrate:plan --pre-deploy --json` as a child process, start-up included. */
  readonly cliMs: number;
  /** knex's own `migrate.list()` on the same files (loading them, no analysis). */
  readonly knexListMs: number;
  /** planMs / knexListMs. */
  readonly ratio: number;
  /** shadowMs / knexListMs: the cost of exactness. */
  readonly shadowRatio: number | null;
  /** How the plan split them: pre-deploy to run, post-deploy skipped. */
  readonly preDeploy: number;
  readonly postDeploy: number;
}

/** Options of {@link benchPlanning}. */
export interface PlanningBenchOptions {
  /** @default [1000, 5000] */
  readonly counts?: readonly number[];
  /** Server URL; a scratch database is created and dropped. @default ZD_BENCH_PG_URL or the local PostgreSQL */
  readonly serverUrl?: string;
  readonly log?: (line: string) => void;
  /** Backstage sets to plan too (`test/corpus/`). @default ['catalog'] */
  readonly corpus?: readonly string[];
}

const TABLES_EVERY = 10;
const SHADOW_LIMIT = 1_000;

/**
 * The source of migration `i`: every tenth creates a table; the others change the latest table
 * the way real projects do (nullable columns, concurrent indexes, defaults, backfills in raw
 * SQL, a few drops of a column that nothing later touches: those are post-deploy).
 */
export function migrationSource(i: number): string {
  const table = `t${Math.floor(i / TABLES_EVERY)}`;
  const down = `exports.down = async (knex) => { await knex.raw('SELECT 1'); };\n`;
  switch (i % TABLES_EVERY) {
    case 0:
      return `exports.up = (knex) => knex.schema.createTable('${table}', (t) => {
  t.increments('id');
  t.string('name').notNullable();
  t.integer('owner_id');
  t.text('legacy');
  t.timestamps(true, true);
});
exports.down = (knex) => knex.schema.dropTable('${table}');
`;
    case 1:
    case 5:
      return `exports.up = (knex) => knex.schema.alterTable('${table}', (t) => { t.string('c${i}'); });
exports.down = (knex) => knex.schema.alterTable('${table}', (t) => { t.dropColumn('c${i}'); });
`;
    case 2:
      return `exports.config = { transaction: false };
exports.up = (knex) => knex.raw('CREATE INDEX CONCURRENTLY IF NOT EXISTS "${table}_owner_${i}" ON "${table}" ("owner_id")');
exports.down = (knex) => knex.raw('DROP INDEX CONCURRENTLY IF EXISTS "${table}_owner_${i}"');
`;
    case 3:
      return `exports.up = (knex) => knex.raw('ALTER TABLE "${table}" ADD COLUMN "flag${i}" boolean DEFAULT false NOT NULL');
exports.down = (knex) => knex.raw('ALTER TABLE "${table}" DROP COLUMN "flag${i}"');
`;
    case 4:
      return `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.raw('UPDATE "${table}" SET "name" = trim("name") WHERE "id" BETWEEN 1 AND 10000');
${down}`;
    case 6:
      return `exports.up = (knex) => knex.schema.createTable('${table}_audit', (t) => {
  t.bigIncrements('id');
  t.integer('${table}_id').notNullable();
  t.jsonb('payload');
  t.timestamp('at', { useTz: true }).defaultTo(knex.fn.now());
});
exports.down = (knex) => knex.schema.dropTable('${table}_audit');
`;
    case 7:
      return `exports.up = (knex) => knex.schema.alterTable('${table}', (t) => { t.dropColumn('legacy'); });
exports.down = (knex) => knex.schema.alterTable('${table}', (t) => { t.text('legacy'); });
`;
    case 8:
      return `exports.up = (knex) => knex.raw('ALTER TABLE "${table}" ALTER COLUMN "name" DROP NOT NULL');
exports.down = (knex) => knex.raw('ALTER TABLE "${table}" ALTER COLUMN "name" SET NOT NULL');
`;
    default:
      return `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.raw('COMMENT ON TABLE "${table}" IS \\'release ${i}\\'');
${down}`;
  }
}

async function writeProject(count: number, url: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'knex-zd-bench-plan-'));
  await mkdir(path.join(dir, 'migrations'));
  await mkdir(path.join(dir, 'node_modules'));
  for (const pkg of ['knex', 'pg']) await symlink(path.join(ROOT, 'node_modules', pkg), path.join(dir, 'node_modules', pkg), 'dir');
  await writeFile(
    path.join(dir, 'knexfile.cjs'),
    `module.exports = { client: 'pg', connection: ${JSON.stringify(url)}, pool: { min: 0, max: 2 }, migrations: { directory: './migrations' }, zeroDowntime: { shadow: false } };\n`,
  );
  const width = String(count).length;
  const writes: Promise<void>[] = [];
  for (let i = 0; i < count; i += 1) {
    writes.push(writeFile(path.join(dir, 'migrations', `2025${String(i).padStart(width, '0')}_m${i}.js`), migrationSource(i)));
  }
  await Promise.all(writes);
  return dir;
}

function runCli(cwd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, maxBuffer: 512 * 1024 * 1024, timeout: 600_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const round = (value: number) => Math.round(value);

/** Runs the planning benchmark and returns one row per count. */
export async function benchPlanning(options: PlanningBenchOptions = {}): Promise<PlanningBenchRow[]> {
  const counts = options.counts ?? [1_000, 5_000];
  const serverUrl = options.serverUrl ?? process.env.ZD_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const log = options.log ?? (() => undefined);
  const rows: PlanningBenchRow[] = [];
  for (const count of counts) {
    const database = `zd_bench_plan_${randomBytes(4).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
    await admin.raw('CREATE DATABASE ??', [database]);
    const url = new URL(serverUrl);
    url.pathname = `/${database}`;
    const dir = await writeProject(count, url.toString());
    const directory = path.join(dir, 'migrations');
    let knex: Knex | null = null;
    try {
      log(`planning ${count} migrations`);
      knex = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 2 }, migrations: { directory } });
      let started = performance.now();
      await knex.migrate.list({ directory });
      const knexListMs = performance.now() - started;

      started = performance.now();
      const plan = await createStagedMigrator(knex, { settings: parseSettings({ shadow: false }) }).planLatest({ preDeploy: true });
      const planMs = performance.now() - started;

      // Shadow mode runs every migration (about 50 ms each here): measured up to 1,000 of them.
      let shadowMs: number | null = null;
      if (count <= SHADOW_LIMIT) {
        started = performance.now();
        await createStagedMigrator(knex, { settings: parseSettings({ shadow: 'auto' }) }).planLatest({ preDeploy: true });
        shadowMs = performance.now() - started;
      }
      const errors = plan.checks.findings.filter((f) => f.severity === 'error');
      if (errors.length > 0) throw new Error(`the generated migrations fail the checks: ${errors.slice(0, 3).map((e) => e.message).join('\n')}`);

      started = performance.now();
      const cli = await runCli(dir, ['migrate:plan', '--pre-deploy', '--json']);
      const cliMs = performance.now() - started;
      if (cli.code !== 0) throw new Error(`knex-zd migrate:plan failed (exit ${cli.code}): ${cli.stderr.slice(0, 2_000)}`);

      rows.push({
        set: 'generated',
        migrations: count,
        planMs: round(planMs),
        shadowMs: shadowMs === null ? null : round(shadowMs),
        shadowRatio: shadowMs === null ? null : Math.round((shadowMs / Math.max(knexListMs, 1)) * 10) / 10,
        cliMs: round(cliMs),
        knexListMs: round(knexListMs),
        ratio: Math.round((planMs / Math.max(knexListMs, 1)) * 10) / 10,
        preDeploy: plan.migrations.length,
        postDeploy: plan.skipped.length,
      });
      log(`planning ${count}: ${round(planMs)} ms capture, ${shadowMs === null ? 'not measured' : `${round(shadowMs)} ms`} shadow, ${round(cliMs)} ms through the CLI, knex list ${round(knexListMs)} ms`);
    } finally {
      await knex?.destroy();
      await rm(dir, { recursive: true, force: true });
      await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [database]);
      await admin.destroy();
    }
  }
  for (const set of BACKSTAGE_SETS.filter((s) => (options.corpus ?? ['catalog']).includes(s.name))) rows.push(await planCorpusSet(set, serverUrl, log));
  return rows;
}

/** Planning a Backstage set, every migration pending, in both modes beside knex's `list()`. */
async function planCorpusSet(set: CorpusSet, serverUrl: string, log: (line: string) => void): Promise<PlanningBenchRow> {
  const directory = await migrationsOf(set);
  const database = `zd_bench_corpus_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw('CREATE DATABASE ??', [database]);
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  const knex = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 2 }, migrations: { directory, loadExtensions: ['.js'] } });
  try {
    let started = performance.now();
    const [, pending] = (await knex.migrate.list()) as [unknown[], unknown[]];
    const knexListMs = performance.now() - started;
    started = performance.now();
    const plan = await createStagedMigrator(knex, { settings: parseSettings({ shadow: false }) }).planLatest({ preDeploy: true });
    const planMs = performance.now() - started;
    started = performance.now();
    await createStagedMigrator(knex, { settings: parseSettings({ shadow: 'auto' }) }).planLatest({ preDeploy: true });
    const shadowMs = performance.now() - started;
    log(`planning Backstage ${set.name} (${pending.length}): ${round(planMs)} ms capture, ${round(shadowMs)} ms shadow, knex list ${round(knexListMs)} ms`);
    return {
      set: `Backstage ${set.name}`,
      migrations: pending.length,
      planMs: round(planMs),
      shadowMs: round(shadowMs),
      cliMs: 0,
      knexListMs: round(knexListMs),
      ratio: Math.round((planMs / Math.max(knexListMs, 1)) * 10) / 10,
      shadowRatio: Math.round((shadowMs / Math.max(knexListMs, 1)) * 10) / 10,
      preDeploy: plan.migrations.length,
      postDeploy: plan.skipped.length,
    };
  } finally {
    await knex.destroy();
    await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [database]);
    await admin.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const counts = process.argv[2] ? process.argv[2].split(',').map(Number) : undefined;
  const rows = await benchPlanning({ counts, log: (line) => process.stderr.write(`${line}\n`) });
  console.table(rows);
}
