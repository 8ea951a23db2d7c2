/**
 * What a default config refuses on each Backstage set, for any built version of the package:
 * `npm run corpus:adoption -- [PACKAGE_DIR] [--json]`, PACKAGE_DIR a checkout whose
 * `dist/index.js` is built (this repository by default; an older commit's worktree for a before/after).
 *
 * Per set, on fresh databases:
 * - `fresh`: the whole set pending on an empty database, `planLatest()` with `zeroDowntime: {}`:
 *   the error-level findings (what `migrate:latest` refuses), by check id;
 * - `adopted`: the set applied by plain knex, then `check()` with `startAfter` the last migration
 *   (a project adopting knex-zd), when the version knows `startAfter`;
 *
 * `safeByDefault` on the same sets is measured by test/corpus/safe-by-default.ts (half of each set
 * applied first, since on an empty database every table is new and nothing needs a safe form).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import { createTestDatabase } from '../helpers/db.js';
import { BACKSTAGE_SETS, corpusKnex, migrationFiles, migrationsOf } from './backstage.js';

interface Finding {
  readonly code: string;
  readonly severity: string;
  readonly migration: string | null;
}
interface Package {
  createStagedMigrator(knex: Knex): {
    planLatest(): Promise<{ checks: { findings: Finding[] } }>;
    check(): Promise<{ result: { findings: Finding[] } }>;
  };
}

const args = process.argv.slice(2);
const json = args.includes('--json');
const root = path.resolve(args.find((a) => !a.startsWith('--')) ?? '.');
const pkg = (await import(pathToFileURL(path.join(root, 'dist/index.js')).href)) as Package;

function byCode(findings: readonly Finding[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of findings.filter((f) => f.severity === 'error')) out[f.code] = (out[f.code] ?? 0) + 1;
  return out;
}

async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const db = await createTestDatabase('zd_corpus_adopt');
  try {
    return await fn(db.url);
  } finally {
    await db.drop();
  }
}

/** Runs `fn`; an option this version does not know (a config error) is `unsupported`. */
async function attempt<T>(fn: () => Promise<T>): Promise<T | 'unsupported' | { error: string }> {
  try {
    return await fn();
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e.code === 'ZD_CONFIG' && /startAfter/.test(e.message ?? '')) return 'unsupported';
    return { error: e.message ?? String(error) };
  }
}

const rows: Array<Record<string, unknown>> = [];
for (const set of BACKSTAGE_SETS) {
  const directory = await migrationsOf(set);
  const files = await migrationFiles(set);
  const fresh = await withDatabase(async (url) => {
    const knex = corpusKnex(url, directory, {});
    try {
      return byCode((await pkg.createStagedMigrator(knex).planLatest()).checks.findings);
    } finally {
      await knex.destroy();
    }
  });
  const adopted = await withDatabase(async (url) => {
    const plain = corpusKnex(url, directory);
    await plain.migrate.latest().finally(() => plain.destroy());
    const knex = corpusKnex(url, directory, { startAfter: files.at(-1) });
    return attempt(async () => byCode((await pkg.createStagedMigrator(knex).check()).result.findings)).finally(() => knex.destroy());
  });
  rows.push({ set: set.name, migrations: files.length, fresh, adopted });
  if (!json) console.error(`${set.name}: done`);
}

const total = (r: unknown) => (r && typeof r === 'object' && !('error' in r) ? Object.values(r as Record<string, number>).reduce((a, b) => a + b, 0) : r);
if (json) console.log(JSON.stringify(rows, null, 2));
else {
  console.log('| set | migrations | refused on a fresh database (errors by id) | adopted with startAfter: check errors |');
  console.log('|---|---|---|---|');
  for (const r of rows) {
    const fresh = r.fresh as Record<string, number>;
    const adopted = r.adopted;
    console.log(`| ${String(r.set)} | ${String(r.migrations)} | ${String(total(fresh))} ${JSON.stringify(fresh)} | ${typeof adopted === 'object' && adopted && !('error' in adopted) ? String(total(adopted)) : JSON.stringify(adopted)} |`);
  }
}
