/**
 * `npm run demo`: plays a blue/green deploy of each release of the example shop while its
 * application keeps serving requests, first with knex-zd (pre-deploy migrations, switch,
 * post-deploy migrations), then with plain knex (`knex.migrate.latest()`: everything at once,
 * before the switch), and prints per phase what each side of the application saw.
 *
 * Exits 0 when no request failed during the knex-zd deploys; 1 when one did, or a step of the demo
 * failed; 2 when it has no server to run on (the message says what to do); 128 + the signal's
 * number when interrupted (Ctrl-C: 130). In every case it removes what it created: its scratch
 * databases, the working copy, the embedded PostgreSQL and its folder.
 *
 * Flags: --orders N (rows in the orders table, default 200000), --customers N (default 20000).
 * Environment: DATABASE_URL to use that server instead of an embedded PostgreSQL.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import knexFactory, { type Knex } from 'knex';
import pc from 'picocolors';
import { seedShop, type ShopSize } from '../app/seeds/01_shop.js';
import { RELEASES } from '../app/src/releases.js';
import { shopReleases, type ShopCode } from '../app/src/shop.js';
import { startEmbedded, useServer, type DemoServer } from './database.js';
import { playDeploy, totalFailed, weightedPicker, type Phase, type PhaseResult, type SideName } from './player.js';
import { formatFailures, formatProgress, formatRelease } from './report.js';
import { formatPrediction, predictRelease } from './verify.js';
import { BIN, createWorkspace, type Workspace } from './workspace.js';

/** The demo has no server to run on: exit 2, with what to do. */
class CannotRun extends Error {}

const PRE_MS = 1_500;
const ROLL_OUT_MS = 2_000;
const POST_MS = 1_500;

const tty = process.stdout.isTTY === true;
let progressShown = false;
function progress(line: string): void {
  if (!tty) return;
  process.stdout.write(`\r\u001b[2K${line.slice(0, (process.stdout.columns ?? 120) + 20)}`);
  progressShown = true;
}
function say(line = ''): void {
  if (progressShown) {
    process.stdout.write('\r\u001b[2K');
    progressShown = false;
  }
  console.log(line);
}

/** Runs the built knex-zd CLI in the working copy; resolves with its last output line, throws on a non-zero exit. */
function knexZd(workspace: Workspace, databaseUrl: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: workspace.dir, env: { ...process.env, DATABASE_URL: databaseUrl, NO_COLOR: '1' }, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`knex-zd ${args.join(' ')} failed:\n${stderr || stdout}`, { cause: error }));
          return;
        }
        // The summary line ("applied 2 pre-deploy migrations…"), else the first line.
        const lines = stdout.trim().split('\n').map((l) => l.trim()).filter(Boolean);
        resolve(lines.find((l) => /^(applied|no pending|already)/i.test(l)) ?? lines[0] ?? '');
      },
    );
  });
}

function connect(url: string, max: number): Knex {
  // A failed connection is a failed request, which the report counts; knex's warning would print its stack.
  return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max }, log: { warn: () => undefined } });
}

const pick = (max: number) => 1 + Math.floor(Math.random() * max);

function requestsFor(knex: Knex, code: ShopCode) {
  const next = weightedPicker(code.actions.map((a) => ({ weight: a.weight, value: a.run })));
  return () => {
    const action = next();
    return () => action(knex, pick);
  };
}

interface Played {
  readonly mode: string;
  readonly results: PhaseResult[];
  readonly notes: string[];
}

/** Plays one deploy on `url`: the old and new application pools serve while `phases` run. */
async function play(mode: string, url: string, codes: Record<SideName, ShopCode>, phases: (notes: string[]) => Phase[], signal: AbortSignal): Promise<Played> {
  const pools = { old: connect(url, 4), new: connect(url, 4) };
  const notes: string[] = [];
  try {
    const results = await playDeploy(phases(notes), {
      requests: { old: requestsFor(pools.old, codes.old), new: requestsFor(pools.new, codes.new) },
      workersPerSide: 3,
      pauseMs: 2,
      signal,
      onTick: (phase, sides, elapsed) => progress(formatProgress(mode, phase, sides, elapsed)),
    });
    return { mode, results, notes };
  } finally {
    await Promise.all([pools.old.destroy(), pools.new.destroy()]);
  }
}

function knexZdPhases(workspace: Workspace, url: string) {
  return (notes: string[]): Phase[] => [
    {
      name: 'pre-deploy',
      sides: ['old'],
      minDurationMs: PRE_MS,
      work: async () => {
        notes.push(`migrate:latest --pre-deploy: ${await knexZd(workspace, url, ['migrate:latest', '--pre-deploy'])}`);
      },
    },
    { name: 'roll-out', sides: ['old', 'new'], minDurationMs: ROLL_OUT_MS },
    {
      name: 'post-deploy',
      sides: ['new'],
      minDurationMs: POST_MS,
      work: async () => {
        notes.push(`migrate:latest: ${await knexZd(workspace, url, ['migrate:latest'])}`);
      },
    },
  ];
}

function plainKnexPhases(workspace: Workspace, url: string) {
  return (notes: string[]): Phase[] => [
    {
      name: 'migrate:latest',
      sides: ['old'],
      minDurationMs: PRE_MS,
      work: async () => {
        const knex = connect(url, 2);
        try {
          // knex's own migrator: what `knex migrate:latest` runs, every pending migration at once.
          const [, log] = await knex.migrate.latest({ directory: workspace.migrationsDir, loadExtensions: ['.ts'] });
          notes.push(`knex.migrate.latest(): ran ${log.length} migration${log.length === 1 ? '' : 's'}`);
        } finally {
          await knex.destroy();
        }
      },
    },
    { name: 'roll-out', sides: ['old', 'new'], minDurationMs: ROLL_OUT_MS },
    { name: 'after', sides: ['new'], minDurationMs: POST_MS },
  ];
}

function numberFlag(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 100) throw new Error(`--${name} must be a whole number of at least 100; got ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { orders: { type: 'string' }, customers: { type: 'string' } }, strict: true });
  const size: ShopSize = {
    customers: numberFlag(values.customers, 20_000, 'customers'),
    orders: numberFlag(values.orders, 200_000, 'orders'),
  };
  const abort = new AbortController();
  let interrupted = false;
  let interruptedCode = 130;
  const onSignal = (signal: NodeJS.Signals = 'SIGINT') => {
    if (interrupted) process.exit(interruptedCode); // the embedded server and the working copy are removed on 'exit'
    interrupted = true;
    interruptedCode = 128 + (os.constants.signals[signal] ?? 2);
    abort.abort();
    say(pc.yellow('\nInterrupted: stopping the traffic and cleaning up (Ctrl-C again to quit at once)…'));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  // npm runs the demo under `sh -c`, which dies of a SIGTERM sent to npm (`timeout npm run demo`)
  // without passing it on: the end of the parent is an interruption too.
  const parent = process.ppid;
  const orphaned = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphaned);
    onSignal('SIGHUP');
  }, 500);
  orphaned.unref();

  const started = performance.now();
  say(pc.bold('knex-zero-downtime demo: blue/green deploys of a small shop, with the application serving all along'));
  let server: DemoServer;
  try {
    if (process.env.DATABASE_URL) {
      server = await useServer(process.env.DATABASE_URL);
    } else {
      say(pc.dim('Starting an embedded PostgreSQL (set DATABASE_URL to use your own server)…'));
      server = await startEmbedded();
    }
  } catch (error) {
    if (interrupted) return interruptedCode;
    throw new CannotRun(error instanceof Error ? error.message : String(error), { cause: error });
  }
  if (interrupted) {
    await server.stop();
    return interruptedCode;
  }
  say(`Database: ${server.description}`);

  const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const zdDatabase = `shop_zd_${suffix}`;
  const scratch = new Set<string>();
  let workspace: Workspace | null = null;
  const outcome = { zdFailed: 0, plainFailed: 0, zdWorkFailed: false, plainWorkFailed: false, predictionsMissed: 0 };
  try {
    workspace = await createWorkspace();
    const dir = workspace.dir;
    // A second Ctrl-C exits at once: the working copy goes too.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await server.createDatabase(zdDatabase);
    scratch.add(zdDatabase);
    const zdUrl = server.url(zdDatabase);

    say(pc.dim(`Release 0 (${RELEASES[0].title}): migrating and seeding ${size.customers.toLocaleString('en-US')} customers, ${size.orders.toLocaleString('en-US')} orders…`));
    await workspace.ship(0);
    await knexZd(workspace, zdUrl, ['migrate:latest']);
    const seeding = connect(zdUrl, 1);
    try {
      await seedShop(seeding, size);
    } finally {
      await seeding.destroy();
    }
    const codes = shopReleases({ customers: size.customers, orders: size.orders });

    for (const release of RELEASES.slice(1)) {
      if (abort.signal.aborted) break;
      const old = codes[release.number - 1];
      const next = codes[release.number];
      say();
      say(pc.bold(pc.cyan(`Release ${release.number}: ${release.title}`)));
      say(pc.dim(`  old code = release ${old.release} (${old.summary}); new code = release ${next.release} (${next.summary})`));

      // The plain-knex run starts from the very same database state: a copy made before the release.
      const plainDatabase = `shop_plain_${release.number}_${suffix}`;
      await server.createDatabase(plainDatabase, zdDatabase);
      scratch.add(plainDatabase);
      await workspace.ship(release.number);
      // Before the deploy: what verify predicts for the old and new code's queries.
      const prediction = await predictRelease(workspace, zdUrl, server.url(plainDatabase), old, next);
      if (abort.signal.aborted) break;

      const zd = await play('knex-zd', zdUrl, { old, new: next }, knexZdPhases(workspace, zdUrl), abort.signal);
      if (abort.signal.aborted) break;
      const plain = await play('plain knex', server.url(plainDatabase), { old, new: next }, plainKnexPhases(workspace, server.url(plainDatabase)), abort.signal);
      await server.dropDatabase(plainDatabase);
      scratch.delete(plainDatabase);

      say(formatRelease([zd, plain]));
      for (const run of [zd, plain]) {
        for (const note of run.notes) say(pc.dim(`  ${run.mode}: ${note}`));
        for (const phase of run.results) {
          if (phase.workError) say(pc.red(`  ${run.mode} ${phase.name}: ${phase.workError.message.split('\n').slice(0, 4).join('\n    ')}`));
        }
        for (const line of formatFailures(run.results)) say(`  ${run.mode === 'knex-zd' ? pc.red('knex-zd failures') : pc.yellow('plain knex failures')}: ${line}`);
      }
      const predicted = formatPrediction(prediction, [zd, plain]);
      for (const line of predicted.lines) say(line);
      if (!predicted.matched) outcome.predictionsMissed += 1;
      outcome.zdFailed += totalFailed(zd.results);
      outcome.plainFailed += totalFailed(plain.results);
      if (zd.results.some((p) => p.workError)) outcome.zdWorkFailed = true;
      if (plain.results.some((p) => p.workError)) outcome.plainWorkFailed = true;
    }
  } catch (error) {
    // After a Ctrl-C, a step that fails (its knex-zd child got the signal too) is part of stopping.
    if (!interrupted) throw error;
  } finally {
    process.stdout.write(tty && progressShown ? '\r\u001b[2K' : '');
    for (const name of scratch) {
      await server.dropDatabase(name).catch(() => {});
    }
    await workspace?.remove().catch(() => {});
    await server.stop().catch(() => {});
  }
  if (interrupted) return interruptedCode;

  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  say();
  const zdLine = `knex-zd: ${outcome.zdFailed.toLocaleString('en-US')} failed requests`;
  const plainLine =
    `plain knex: ${outcome.plainFailed.toLocaleString('en-US')} failed requests` +
    (outcome.predictionsMissed === 0 ? ', as knex-zd verify predicted' : pc.red(` (verify's prediction missed in ${outcome.predictionsMissed} release${outcome.predictionsMissed === 1 ? '' : 's'})`));
  if (outcome.zdFailed === 0 && !outcome.zdWorkFailed && !outcome.plainWorkFailed) {
    say(pc.bold(`${pc.green(zdLine)} · ${outcome.plainFailed > 0 ? pc.yellow(plainLine) : plainLine} · ${seconds} s`));
    return 0;
  }
  const zdShown = outcome.zdFailed > 0 || outcome.zdWorkFailed ? pc.red(zdLine) : pc.green(zdLine);
  const plainShown = outcome.plainWorkFailed ? pc.red(`${plainLine} (its migration step failed)`) : plainLine;
  say(pc.bold(`${zdShown}${outcome.zdWorkFailed ? pc.red(' (a migration step failed)') : ''} · ${plainShown} · ${seconds} s`));
  return 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof CannotRun) {
      say(pc.red(`The demo cannot run here: ${error.message}`));
      process.exitCode = 2;
      return;
    }
    say(pc.red(`demo failed: ${error instanceof Error ? error.message : String(error)}`));
    process.exitCode = 1;
  },
);
