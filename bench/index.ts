/**
 * `npm run bench`: every benchmark of the project in one run, so that the ratios against plain
 * knex are measured on the same machine, server and moment. Prints a markdown report and writes
 * the same data as JSON to bench/results/<date>.json.
 *
 *   npm run bench [-- --quick] [-- --only planning,operations] [-- --database-url URL]
 *
 * --quick uses small tables (10k and 100k rows instead of 1M and 5M) and fewer deployers and
 * rounds, so the whole run takes a few minutes. The server is --database-url, else
 * ZD_BENCH_PG_URL or DATABASE_URL, else the local PostgreSQL on 127.0.0.1:5432, else an embedded
 * PostgreSQL started for the run. A section whose benchmark file has not landed, or that fails,
 * is reported as skipped with the reason; the others still run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SECTIONS = ['operations', 'lock-wait', 'planning', 'quorum', 'hot-upgrade', 'analysis', 'verify'] as const;
type SectionName = (typeof SECTIONS)[number];

/** A section's outcome in the report. */
export type SectionResult =
  | { readonly status: 'ok'; readonly durationMs: number; readonly rows: readonly Record<string, unknown>[] }
  | { readonly status: 'skipped' | 'failed'; readonly reason: string };

/** The whole report, as written to JSON. */
export interface BenchReport {
  readonly date: string;
  readonly quick: boolean;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly memoryGb: number; readonly platform: string; readonly node: string };
  readonly postgres: { readonly version: string; readonly server: string };
  readonly sections: Partial<Record<SectionName, SectionResult>>;
}

type Rows = readonly Record<string, unknown>[];
type Runner = (context: { serverUrl: string; quick: boolean; log: (line: string) => void }) => Promise<Rows>;

/** How each section's benchmark file is called: its exported function and the options a run uses. */
const RUNNERS: Record<SectionName, { file: string; exportName: string; run: (fn: (...args: any[]) => Promise<Rows>) => Runner }> = {
  operations: {
    file: 'operations.ts',
    exportName: 'benchOperations',
    run: (fn) => ({ serverUrl, quick, log }) => fn({ serverUrl, sizes: quick ? [10_000, 100_000] : [1_000_000, 5_000_000], log }),
  },
  'lock-wait': {
    file: 'lock-wait.ts',
    exportName: 'benchLockWait',
    run: (fn) => ({ serverUrl, log }) => fn({ serverUrl, blockers: [1_000, 10_000], log }),
  },
  planning: {
    file: 'planning.ts',
    exportName: 'benchPlanning',
    run: (fn) => ({ serverUrl, quick, log }) => fn({ serverUrl, counts: quick ? [200] : [1_000, 5_000], corpus: ['catalog'], log }),
  },
  quorum: {
    file: 'quorum.ts',
    exportName: 'benchQuorum',
    run: (fn) => ({ quick }) => fn({ sizes: quick ? [2, 10] : [2, 10, 50] }),
  },
  'hot-upgrade': {
    file: 'hot-upgrade.ts',
    exportName: 'benchHotUpgrade',
    run: (fn) => ({ serverUrl, quick }) => fn({ serverUrl, ...(quick ? { queries: 100, connections: 20, rounds: 3 } : {}) }),
  },
  analysis: {
    file: 'analysis.ts',
    exportName: 'benchAnalysis',
    run: (fn) => ({ quick }) => fn({ statements: quick ? 2_000 : 10_000 }),
  },
  verify: {
    file: 'verify.ts',
    exportName: 'benchVerify',
    run: (fn) => ({ serverUrl, quick, log }) => fn({ serverUrl, queries: 1_000, log, ...(quick ? { perRound: 500, rounds: 3 } : {}) }),
  },
};

async function loadRunner(section: SectionName): Promise<Runner | string> {
  const spec = RUNNERS[section];
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path.join(HERE, spec.file)).href)) as Record<string, unknown>;
  } catch (error) {
    return `bench/${spec.file} could not be loaded (${(error as Error).message.split('\n')[0]})`;
  }
  const fn = module[spec.exportName];
  if (typeof fn !== 'function') return `bench/${spec.file} does not export ${spec.exportName}() yet`;
  return spec.run(fn as (...args: any[]) => Promise<Rows>);
}

async function reachable(url: string): Promise<string | null> {
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 }, acquireConnectionTimeout: 5_000 });
  try {
    const result = await knex.raw<{ rows: Array<{ server_version: string }> }>('SHOW server_version');
    return result.rows[0].server_version;
  } catch {
    return null;
  } finally {
    await knex.destroy();
  }
}

function machine(): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const num = (value: unknown): string =>
  typeof value === 'number' ? value.toLocaleString('en-US') : typeof value === 'string' ? value : value == null ? '' : JSON.stringify(value);

function table(header: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  const line = (cells: readonly unknown[]) => `| ${cells.map((c) => (typeof c === 'string' ? c : num(c))).join(' | ')} |`;
  return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

/** The ratios against plain knex of every section that has one, measured in this run. */
export function ratioRows(sections: BenchReport['sections']): string[][] {
  const out: string[][] = [];
  const rowsOf = (name: SectionName) => {
    const s = sections[name];
    return s?.status === 'ok' ? s.rows : [];
  };
  for (const r of rowsOf('operations')) {
    out.push([
      'writer stall',
      `${String(r.operation)} @ ${num(r.rows)} rows`,
      `${num(r.safeStallMs)} ms`,
      `${num(r.plainStallMs)} ms`,
      `plain ÷ safe = ${num(r.ratio)}×`,
    ]);
  }
  for (const r of rowsOf('lock-wait')) {
    out.push([
      'writer stall behind a blocked DDL',
      `ALTER TABLE behind a ${num(Number(r.blockerMs) / 1000)} s transaction (default settings)`,
      `${num(r.safeStallMs)} ms`,
      `${num(r.plainStallMs)} ms`,
      `plain ÷ knex-zd = ${num(r.ratio)}×`,
    ]);
  }
  for (const r of rowsOf('planning')) {
    out.push([
      'planning, capture mode',
      `${num(r.migrations)} ${(typeof r.set === 'string' ? r.set : 'generated')} migrations`,
      `${num(r.planMs)} ms`,
      `${num(r.knexListMs)} ms (knex migrate.list)`,
      `knex-zd ÷ knex = ${num(r.ratio)}×`,
    ]);
    if (r.shadowMs !== null) out.push([
      'planning, shadow mode',
      `${num(r.migrations)} ${(typeof r.set === 'string' ? r.set : 'generated')} migrations`,
      `${num(r.shadowMs)} ms`,
      `${num(r.knexListMs)} ms (knex migrate.list)`,
      `knex-zd ÷ knex = ${num(r.shadowRatio)}×`,
    ]);
  }
  for (const r of rowsOf('verify')) {
    out.push(['verify', String(r.name), `${num(r.knexZd)} ${String(r.unit)}`, `${num(r.plain)} ${String(r.unit)}`, `knex-zd ÷ plain = ${num(r.ratio)}×`]);
  }
  for (const r of rowsOf('hot-upgrade')) {
    out.push(['hot upgrade', String(r.name).replace(/^hot-upgrade: /, ''), `${num(r.withFeatureUs)} µs`, `${num(r.baselineUs)} µs`, `knex-zd ÷ plain = ${num(r.ratio)}×`]);
  }
  return out;
}

/** The markdown report. */
export function formatReport(report: BenchReport): string {
  const m = report.machine;
  const parts: string[] = [
    '# knex-zero-downtime benchmarks',
    '',
    `${report.date} · ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB · ${m.platform} · Node ${m.node} · PostgreSQL ${report.postgres.version} (${report.postgres.server})${report.quick ? ' · --quick' : ''}`,
    '',
    '## Against plain knex, same run',
    '',
  ];
  const ratios = ratioRows(report.sections);
  parts.push(ratios.length > 0 ? table(['what', 'measurement', 'knex-zd', 'plain knex', 'ratio'], ratios) : '_No section with a plain-knex comparison ran._');
  const section = (name: SectionName, title: string, render: (rows: Rows) => string) => {
    const s = report.sections[name];
    if (!s) return;
    parts.push('', `## ${title}`, '');
    if (s.status === 'ok') parts.push(render(s.rows), '', `_${(s.durationMs / 1000).toFixed(1)} s_`);
    else parts.push(`_${s.status}: ${s.reason}_`);
  };
  section('operations', 'Writer stall per operation (longest single write while the operation runs)', (rows) =>
    table(
      ['operation', 'rows', 'safe stall ms', 'plain stall ms', 'plain/safe', 'safe run ms', 'plain run ms'],
      rows.map((r) => [String(r.operation), r.rows, r.safeStallMs, r.plainStallMs, `${num(r.ratio)}×`, r.safeDurationMs, r.plainDurationMs]),
    ),
  );
  section('lock-wait', 'Writer stall behind a DDL that waits for a long transaction (default settings vs plain knex)', (rows) =>
    table(
      ['blocker', 'knex-zd stall ms', 'plain stall ms', 'plain/knex-zd', 'knex-zd ALTER done ms', 'plain ALTER done ms', 'writes knex-zd / plain'],
      rows.map((r) => [`${num(Number(r.blockerMs) / 1000)} s`, r.safeStallMs, r.plainStallMs, `${num(r.ratio)}×`, r.safeDoneMs, r.plainDoneMs, `${num(r.safeWrites)} / ${num(r.plainWrites)}`]),
    ),
  );
  section('planning', 'Planning pending migrations: capture mode (load, capture, classify, check) and shadow mode (run and traced in a temporary database)', (rows) =>
    table(
      ['set', 'migrations', 'capture ms', 'shadow ms', 'knex-zd migrate:plan ms', 'knex migrate.list ms', 'pre-deploy', 'post-deploy'],
      rows.map((r) => [(typeof r.set === 'string' ? r.set : 'generated'), r.migrations, r.planMs, r.shadowMs ?? 'not measured', r.cliMs || '', r.knexListMs, r.preDeploy, r.postDeploy]),
    ),
  );
  section('quorum', 'Quorum: from the N-th arrival to the last deployer exiting', (rows) =>
    table(
      ['backend', 'N', 'N-th arrival → last exit ms', 'start-up ms', 'exactly once, all exit 0'],
      rows.map((r) => [String(r.backend), r.size, r.nthArrivalToLastExitMs, r.startupMs, r.ok ? 'yes' : 'NO']),
    ),
  );
  section('hot-upgrade', 'Hot-upgrade overhead (median per operation)', (rows) =>
    table(['measurement', 'plain µs', 'withHotUpgrade µs', 'ratio'], rows.map((r) => [String(r.name), r.baselineUs, r.withFeatureUs, `${num(r.ratio)}×`])),
  );
  section('verify', 'verify: recordQueries overhead and the time to verify 1,000 recorded queries across a 3-migration release', (rows) =>
    table(['measurement', 'plain knex', 'knex-zd', 'ratio'], rows.map((r) => [String(r.name), `${num(r.plain)} ${String(r.unit)}`, `${num(r.knexZd)} ${String(r.unit)}`, `${num(r.ratio)}×`])),
  );
  section('analysis', 'Statement classification', (rows) => table(Object.keys(rows[0] ?? {}), rows.map((r) => Object.values(r))));
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, 'database-url': { type: 'string' } },
    strict: true,
  });
  const quick = values.quick === true;
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((s) => !SECTIONS.includes(s as SectionName)) ?? [];
  if (unknown.length > 0) {
    console.error(`--only: unknown section ${unknown.join(', ')}; the sections are ${SECTIONS.join(', ')}.`);
    return 2;
  }
  const chosen = SECTIONS.filter((s) => !only || only.includes(s));
  const log = (line: string) => process.stderr.write(`  ${line}\n`);

  let serverUrl = values['database-url'] ?? process.env.ZD_BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  let version = await reachable(serverUrl);
  let stop = async () => {};
  let server = new URL(serverUrl).host;
  if (version === null) {
    if (values['database-url'] ?? process.env.ZD_BENCH_PG_URL ?? process.env.DATABASE_URL) {
      console.error(`Cannot connect to ${server}.`);
      return 2;
    }
    process.stderr.write('No PostgreSQL on 127.0.0.1:5432: starting an embedded one for the run.\n');
    const { startEmbedded } = await import('../examples/demo/database.js');
    const embedded = await startEmbedded();
    serverUrl = embedded.url('postgres');
    version = embedded.version;
    server = 'embedded';
    stop = () => embedded.stop();
  }
  // The quorum benchmark creates its databases through the test helper, which reads this at import.
  process.env.ZD_TEST_PG_URL = serverUrl;
  process.env.ZD_BENCH_PG_URL = serverUrl;

  const report: BenchReport = {
    date: new Date().toISOString(),
    quick,
    machine: machine(),
    postgres: { version, server },
    sections: {},
  };
  try {
    for (const name of chosen) {
      process.stderr.write(`[${name}]\n`);
      const runner = await loadRunner(name);
      if (typeof runner === 'string') {
        report.sections[name] = { status: 'skipped', reason: runner };
        log(`skipped: ${runner}`);
        continue;
      }
      const started = performance.now();
      try {
        const rows = await runner({ serverUrl, quick, log });
        report.sections[name] = { status: 'ok', durationMs: Math.round(performance.now() - started), rows };
      } catch (error) {
        const reason = (error as Error).message.split('\n').slice(0, 3).join(' ');
        report.sections[name] = { status: 'failed', reason };
        log(`failed: ${reason}`);
      }
    }
  } finally {
    await stop();
  }

  console.log(formatReport(report));
  const dir = path.join(HERE, 'results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${report.date.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nJSON: ${path.relative(process.cwd(), file)}`);
  return Object.values(report.sections).some((s) => s.status === 'failed') ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
