import type { Command } from '../command.js';
import { EXIT } from '../command.js';
import { withProject } from '../context.js';
import { PROJECT_FLAGS, stringFlag, type ParsedFlags } from '../flags.js';
import { palette } from '../output.js';
import { ConfigError } from '../../errors.js';
import { verifyJson, verifyText } from '../../verify/format.js';
import { loadQuerySource, parseSourceSpec, readQueryFile, type QuerySet, type QuerySourceSpec } from '../../verify/query-source.js';
import { verifyQueries } from '../../verify/verify.js';
import type { Knex } from 'knex';

/** A SOURCE flag: its files are read at once (before connecting, and before the knexfile changes the working directory). */
export interface PendingSource {
  readonly flag: string;
  readonly spec: QuerySourceSpec;
  readonly set: QuerySet | null;
}

/** Reads the SOURCE of `--name` now when it is a file; `pg_stat_statements` is read once connected. */
export async function sourceFlag(values: ParsedFlags['values'], name: string): Promise<PendingSource | null> {
  const given = stringFlag(values, name);
  if (given === undefined) return null;
  const flag = `--${name}`;
  const spec = parseSourceSpec(given, flag);
  return { flag, spec, set: spec.kind === 'pg_stat_statements' ? null : await readQueryFile(spec, flag) };
}

/** The queries of a SOURCE flag, reading `pg_stat_statements` from the target when it names it. */
export async function sourceQueries(source: PendingSource | null, knex: Knex): Promise<QuerySet | undefined> {
  if (!source) return undefined;
  return source.set ?? loadQuerySource(source.spec, source.flag, knex);
}

/** `knex-zd verify --old-queries SOURCE [--new-queries SOURCE] [--json]`. */
export const verifyCommand: Command = {
  name: 'verify',
  summary: "Prove in a shadow database that the old release's queries survive the pre-deploy migrations and the new release's work after them.",
  help: `Usage: knex-zd verify --old-queries SOURCE [--new-queries SOURCE] [--json]

  --old-queries SOURCE   the queries of the release running now
  --new-queries SOURCE   the queries of the release being deployed
  --json                 every query with its result at each step
SOURCE is a .sql file (statements separated by ;, $1-style parameters allowed), a .jsonl file
written by recordQueries(), or pg_stat_statements (the target's normalized queries).

In a shadow database brought to the target's schema (never the target), the pending migrations
run in deploy order (migrate:latest --pre-deploy, then migrate:latest); at the current schema and
after each migration every query is prepared (PREPARE, never executed) and every INSERT is checked
for NOT NULL columns without a default that it leaves out.
Exit code 1 when an old query fails after a pre-deploy migration, a new query fails after the
pre-deploy step, or a migration fails; 0 otherwise (old queries that fail only after a post-deploy
migration are listed: the roll-out must be over by then); 2 on bad input or without a shadow database.`,
  flags: { ...PROJECT_FLAGS, 'old-queries': { type: 'string' }, 'new-queries': { type: 'string' }, json: { type: 'boolean' } },
  async run({ values }, output) {
    const old = await sourceFlag(values, 'old-queries');
    const next = await sourceFlag(values, 'new-queries');
    if (!old && !next) throw new ConfigError('verify needs --old-queries SOURCE (the queries of the release running now), and --new-queries SOURCE for the release being deployed.');
    return withProject(values as never, {}, async (project) => {
      const result = await verifyQueries(project.knex, project.migrator, {
        old: await sourceQueries(old, project.knex),
        new: await sourceQueries(next, project.knex),
      });
      if (values.json) output.out(JSON.stringify(verifyJson(result), null, 2));
      else for (const line of verifyText(result, palette(output.color))) output.out(line);
      return result.ok ? EXIT.ok : EXIT.failure;
    });
  },
};
