/**
 * The demo's `knex-zd verify` step. Before each release, the queries that the old and the new
 * application code send are recorded with `recordQueries` (each request of examples/app/src/shop.ts
 * once, in a transaction rolled back, as an application's test suite would), `knex-zd verify`
 * predicts in a shadow database which of them break and when, and after both deploys the
 * prediction is set beside what the traffic met: with knex-zd the old code is gone before the
 * post-deploy migrations, so nothing breaks; plain knex applies them while the old code still
 * runs, so the old queries that verify named as breaking after a post-deploy migration fail.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import knexFactory from 'knex';
import pc from 'picocolors';
import { recordQueries } from 'knex-zero-downtime';
import type { ShopCode } from '../app/src/shop.js';
import type { PhaseResult, SideName } from './player.js';
import { BIN, type Workspace } from './workspace.js';

/** What verify answered for one query (the part of `verify --json` the demo reads). */
interface VerifiedQuery {
  readonly side: SideName;
  readonly command: string;
  readonly sql: string;
  readonly verdict: string;
  readonly needs: string | null;
  readonly failure: { readonly after: string | null; readonly phase: string; readonly sqlState: string; readonly message: string } | null;
  readonly results: ReadonlyArray<{ readonly after: string | null; readonly ok: boolean | null; readonly message?: string }>;
}

/** verify's prediction for one release. */
export interface Prediction {
  readonly ok: boolean;
  readonly queries: readonly VerifiedQuery[];
  readonly durationMs: number;
}

class Rollback extends Error {}

/** Records the queries of `code` in `file`: each request once, in a transaction that is rolled back. */
async function recordCode(url: string, code: ShopCode, file: string): Promise<void> {
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  const recorder = recordQueries(knex, file, { append: false });
  try {
    await knex.transaction(async (trx) => {
      for (const action of code.actions) {
        // A savepoint each: the new code's queries may not work on this schema yet (that is what verify tells).
        await trx.transaction((savepoint) => action.run(savepoint, () => 1)).catch(() => undefined);
      }
      throw new Rollback();
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  } finally {
    recorder.stop();
    await knex.destroy();
  }
}

/** Runs `knex-zd verify … --json` in the working copy on `url`; exit 0 and 1 are both answers. */
function runVerify(workspace: Workspace, url: string, args: readonly string[]): Promise<{ ok: boolean; queries: VerifiedQuery[] }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, 'verify', ...args, '--json'],
      { cwd: workspace.dir, env: { ...process.env, DATABASE_URL: url, NO_COLOR: '1' }, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? error.code : 0;
        if (code !== 0 && code !== 1) {
          reject(new Error(`knex-zd verify failed:\n${stderr || stdout}`, { cause: error }));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as { ok: boolean; queries: VerifiedQuery[] });
        } catch (parseError) {
          reject(new Error(`knex-zd verify printed no JSON:\n${stderr || stdout}`, { cause: parseError }));
        }
      },
    );
  });
}

/**
 * Records the old and new code's queries on `recordUrl` (a copy of the database before the release)
 * and verifies the shipped release against them on `targetUrl`.
 */
export async function predictRelease(workspace: Workspace, targetUrl: string, recordUrl: string, old: ShopCode, next: ShopCode): Promise<Prediction> {
  const started = performance.now();
  const oldFile = path.join(workspace.dir, `queries-release-${old.release}.jsonl`);
  const newFile = path.join(workspace.dir, `queries-release-${next.release}.jsonl`);
  await recordCode(recordUrl, old, oldFile);
  await recordCode(recordUrl, next, newFile);
  const report = await runVerify(workspace, targetUrl, ['--old-queries', oldFile, '--new-queries', newFile]);
  const queries = report.queries.filter((q) => q.verdict !== 'not-checked');
  return { ok: report.ok, queries, durationMs: performance.now() - started };
}

/** The failure messages of one side over a run's phases, with how many requests met each. */
function observed(results: readonly PhaseResult[], side: SideName): Map<string, number> {
  const out = new Map<string, number>();
  for (const phase of results) {
    for (const [message, n] of phase.sides[side]?.errors ?? []) out.set(message, (out.get(message) ?? 0) + n);
  }
  return out;
}

/**
 * The failure messages verify predicts for each side under a deploy: with knex-zd the old code
 * meets the pre-deploy schemas only and the new code the schemas from the end of the pre-deploy
 * step on; with plain knex (everything applied before the roll-out) both meet the final schema,
 * the old code every schema on the way too.
 */
function predicted(queries: readonly VerifiedQuery[], mode: 'knex-zd' | 'plain knex', side: SideName): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (message: string, command: string) => out.set(message, [...(out.get(message) ?? []), command]);
  for (const query of queries.filter((q) => q.side === side)) {
    if (mode === 'knex-zd') {
      if (query.verdict === 'breaks' && query.failure) add(query.failure.message, query.command);
      continue;
    }
    if (side === 'old' && (query.verdict === 'breaks' || query.verdict === 'breaks-after-roll-out') && query.failure) add(query.failure.message, query.command);
    const last = query.results.at(-1);
    if (side === 'new' && last && last.ok === false && last.message) add(last.message, query.command);
  }
  return out;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** The prediction, then beside it what each deploy's traffic met; `matched` is false when they differ. */
export function formatPrediction(prediction: Prediction, runs: ReadonlyArray<{ mode: string; results: readonly PhaseResult[] }>): { lines: string[]; matched: boolean } {
  const lines: string[] = [];
  const seconds = (prediction.durationMs / 1000).toFixed(1);
  lines.push(pc.bold(`  knex-zd verify, before the deploy (${count(prediction.queries.length)} recorded queries, shadow database, ${seconds} s):`));
  for (const side of ['old', 'new'] as const) {
    const queries = prediction.queries.filter((q) => q.side === side);
    const breaking = queries.filter((q) => q.verdict === 'breaks');
    const later = queries.filter((q) => q.verdict === 'breaks-after-roll-out');
    const needing = queries.filter((q) => q.verdict === 'ok' && q.needs);
    if (breaking.length > 0) {
      for (const q of breaking) lines.push(pc.red(`    ${side} code: ${q.command} breaks after ${q.failure!.after} (${q.failure!.phase}): ${q.failure!.message}`));
    } else {
      lines.push(`    ${side} code: ${pc.green('nothing breaks')} ${side === 'old' ? 'during the pre-deploy step and the roll-out' : 'from the end of the pre-deploy step on'}`);
    }
    for (const q of later) lines.push(pc.yellow(`      ${q.command} breaks after ${q.failure!.after} (post-deploy, once the old code is gone): ${q.failure!.message}`));
    for (const q of needing) lines.push(pc.dim(`      ${q.command} needs ${q.needs} first (at the current schema: ${q.results[0]?.message ?? 'fails'})`));
  }
  let matched = true;
  lines.push(pc.bold('  predicted failures beside what the traffic met:'));
  for (const run of runs) {
    const mode = run.mode === 'knex-zd' ? 'knex-zd' : 'plain knex';
    for (const side of ['old', 'new'] as const) {
      const expect = predicted(prediction.queries, mode, side);
      const seen = observed(run.results, side);
      if (expect.size === 0 && seen.size === 0) {
        lines.push(`    ${mode.padEnd(10)} ${side} code: predicted none, ${pc.green('0 failed')} ✓`);
        continue;
      }
      for (const [message, commands] of expect) {
        const n = seen.get(message) ?? 0;
        if (n === 0) matched = false;
        lines.push(`    ${mode.padEnd(10)} ${side} code: predicted ${[...new Set(commands)].join(', ')} → ${message}: ${n > 0 ? pc.yellow(`${count(n)} failed`) : pc.red('not seen')} ${n > 0 ? '✓' : '✗'}`);
      }
      for (const [message, n] of seen) {
        if (expect.has(message)) continue;
        matched = false;
        lines.push(pc.red(`    ${mode.padEnd(10)} ${side} code: not predicted → ${message}: ${count(n)} failed ✗`));
      }
    }
  }
  return { lines, matched };
}
