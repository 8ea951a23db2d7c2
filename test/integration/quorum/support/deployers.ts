import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import type { Knex } from 'knex';
import type { WorkerConfig } from '../../../fixtures/quorum/worker.js';

const WORKER = fileURLToPath(new URL('../../../fixtures/quorum/worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

let bundled: string | null = null;

/**
 * The worker as one JavaScript file (dependencies left to node_modules), built once per test process:
 * compiling TypeScript in each of dozens of processes started at once would double their CPU time.
 * `ZD_QUORUM_WORKER=tsx` runs the TypeScript source through tsx instead.
 */
function workerCommand(): string[] {
  if (process.env.ZD_QUORUM_WORKER === 'tsx') return ['--import', 'tsx', WORKER];
  if (bundled === null) {
    // Inside the project, so that the bundle's bare imports resolve from its node_modules.
    const dir = join(ROOT, 'node_modules', '.cache', 'knex-zd-quorum');
    mkdirSync(dir, { recursive: true });
    const outfile = join(dir, `worker-${process.pid}-${randomBytes(4).toString('hex')}.mjs`);
    buildSync({ entryPoints: [WORKER], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'error' });
    process.once('exit', () => rmSync(outfile, { force: true }));
    bundled = outfile;
  }
  return [bundled];
}

/** One line that a worker printed. */
export interface WorkerLine {
  t: number;
  event?: { type: string; [key: string]: unknown };
  result?: string;
  applier?: string;
  error?: string;
  message?: string;
  hanging?: boolean;
}

/** A running deployer process. */
export interface Deployer {
  readonly id: string;
  readonly child: ChildProcess;
  readonly lines: WorkerLine[];
  readonly stderr: string[];
  /** How the process ended, once it has. */
  readonly ended: () => { code: number | null; signal: NodeJS.Signals | null } | null;
  /** Resolves when the process exits. */
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Resolves with the first line matching `predicate`. */
  waitFor(predicate: (line: WorkerLine) => boolean): Promise<WorkerLine>;
}

/** Starts one deployer process. */
export function spawnDeployer(config: Omit<WorkerConfig, 'id'> & { id?: string }): Deployer {
  const id = config.id ?? `w-${randomBytes(3).toString('hex')}`;
  const child = spawn(process.execPath, [...workerCommand(), JSON.stringify({ ...config, id })], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: WorkerLine[] = [];
  const stderr: string[] = [];
  const waiters: { predicate: (line: WorkerLine) => boolean; resolve: (line: WorkerLine) => void }[] = [];
  let buffer = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      let line: WorkerLine;
      try {
        line = JSON.parse(text) as WorkerLine;
      } catch {
        stderr.push(text);
        continue;
      }
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  // Resolved on 'close', not 'exit': node may report the exit before it has delivered the last
  // chunk of stdout (the worker's final `error`/`result` line) when this process is busy, and a
  // test that reads `lines` right after the exit would then miss it. `at` is still the exit time.
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    let exited: { code: number | null; signal: NodeJS.Signals | null; at: number } | null = null;
    child.once('exit', (code, signal) => (exited = { code, signal, at: Date.now() }));
    child.once('close', (code, signal) => resolve(exited ?? { code, signal, at: Date.now() }));
  });
  let ended: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void exit.then(({ code, signal }) => (ended = { code, signal }));
  return {
    id,
    child,
    lines,
    stderr,
    ended: () => ended,
    exit,
    waitFor(predicate) {
      const found = lines.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ predicate, resolve });
        // A process that exits without printing the line would leave the test hanging.
        void exit.then(() => reject(new Error(`${id} exited without the expected line: ${JSON.stringify(lines)}`)));
      });
    },
  };
}

/** Starts `count` deployers with the same configuration at once. */
export function spawnDeployers(count: number, config: Omit<WorkerConfig, 'id'>): Deployer[] {
  return Array.from({ length: count }, () => spawnDeployer(config));
}

/** A namespace of its own for one scenario. */
export function uniqueNamespace(): string {
  return `test-${randomBytes(8).toString('hex')}`;
}

/** Creates the tables that the fixture's "migration" writes to. */
export async function createSideEffectTables(knex: Knex): Promise<void> {
  await knex.raw('CREATE TABLE quorum_side_effect (id serial PRIMARY KEY, deployer text NOT NULL)');
  await knex.raw('CREATE TABLE quorum_migrations (id serial PRIMARY KEY, name text NOT NULL, batch integer NOT NULL)');
}

/** How many times the fixture's migration was applied (side effect, migrations table). */
export async function appliedCounts(knex: Knex): Promise<{ sideEffects: number; migrations: number }> {
  const [side] = await knex('quorum_side_effect').count<{ count: string }[]>({ count: '*' });
  const [migrations] = await knex('quorum_migrations').count<{ count: string }[]>({ count: '*' });
  return { sideEffects: Number(side.count), migrations: Number(migrations.count) };
}

/**
 * The first line of a deployer's output that matches `predicate`; throws an error that says what
 * was missing and shows everything the deployer printed (never an `undefined` further down).
 */
export function lineOf(deployer: Deployer, what: string, predicate: (line: WorkerLine) => boolean): WorkerLine {
  const found = deployer.lines.find(predicate);
  if (found === undefined) throw new Error(`${deployer.id} printed no ${what} line. Its output:\n${describeDeployer(deployer)}`);
  return found;
}

/** A readable dump of a deployer's output, for assertion messages. */
export function describeDeployer(deployer: Deployer): string {
  const ended = deployer.ended();
  const how = ended === null ? 'running' : ended.signal ? `killed by ${ended.signal}` : `exit ${ended.code}`;
  return `${deployer.id} (${how}): ${JSON.stringify(deployer.lines)} ${deployer.stderr.join('').slice(0, 2000)}`;
}
