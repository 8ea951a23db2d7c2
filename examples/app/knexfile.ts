// The shop's knexfile: a plain knex config plus the `zeroDowntime` option.
import type { Knex } from 'knex';
import type {} from 'knex-zero-downtime'; // adds `zeroDowntime` to Knex.Config

const config: Knex.Config = {
  client: 'pg',
  connection: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/shop',
  pool: { min: 0, max: 4 },
  migrations: { directory: './migrations', loadExtensions: ['.ts'] },
  seeds: { directory: './seeds', loadExtensions: ['.ts'] },
  zeroDowntime: {
    // Every migration file of this app declares its stage or lets knex-zd infer it from the SQL;
    // anything undecidable is an error, never a guess.
    stages: { fallback: null },
    // A migration waits at most 2 s for a lock (the application's queries queue behind it that long
    // at worst), then backs off and retries.
    timeouts: { lock: '2s', statement: '1min', retries: 10, backoff: '250ms', maxBackoff: '2s' },
    // Several deploy jobs can run `knex-zd migrate:latest --quorum N`: the database itself coordinates.
    quorum: { backend: 'postgres', timeout: '10min' },
    checks: { 'missing-down': 'error' },
  },
};

export default config;
