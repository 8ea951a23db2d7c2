import { parseDuration, type Duration } from './duration.js';
import { ConfigError } from './errors.js';
import { QUORUM_URL_EXAMPLES, quorumUrlProblem } from './quorum/quorum-url.js';
import { isStage, type Stage } from './stages.js';

/** Severity of a check's findings; `'off'` silences the check. */
export type Severity = 'error' | 'warning' | 'off';

/** A quorum backend name. */
export type QuorumBackendName = 'postgres' | 'redis' | 'memcached';

/** The `zeroDowntime` option of a knexfile, as users write it. */
export interface ZeroDowntimeOptions {
  /** How migrations get their stage when the file does not declare one. */
  stages?: {
    /** Stage per migration file name, e.g. `{ '20250101_drop_legacy.js': 'post-deploy' }`. @default {} */
    override?: Record<string, Stage>;
    /**
     * Stage of a migration whose SQL decides none (data changes, COMMENT, VALIDATE…); `null` makes
     * such a migration an error. A migration that mixes stages is never resolved by it.
     * @default 'pre-deploy'
     */
    fallback?: Stage | null;
  };
  /**
   * Lock and statement timeouts for migration statements, and retries after a lock timeout;
   * `false` turns them off. Without `lock`, attempts follow an escalating schedule: short
   * lock waits first (writers queued behind the migration wait at most that long), growing,
   * with jittered pauses in between, until `total` has passed.
   */
  timeouts?:
    | false
    | {
        /**
         * `lock_timeout` of each attempt: one duration for every attempt, or a list that
         * escalates (attempt n uses the n-th value, the last one repeats); `false` turns it off.
         * @default ['100ms', '200ms', '300ms', '400ms', '500ms']
         */
        lock?: Duration | readonly Duration[] | false;
        /** `statement_timeout` for each statement (index builds and VALIDATE are exempt). @default '15min' */
        statement?: Duration | false;
        /** How many times a lock timeout is retried. @default 5 with a single `lock`; with a list, as many as `total` allows */
        retries?: number;
        /** Pause before the first retry; doubles each retry, with jitter. @default '1s' with a single `lock`, '50ms' with a list */
        backoff?: Duration;
        /** Longest pause between retries. @default '30s' with a single `lock`, '5s' with a list */
        maxBackoff?: Duration;
        /** No retry starts once this long has passed since the first attempt. @default '1min' with a list; none with a single `lock` */
        total?: Duration;
      };
  /** How several deployers agree on who applies the plan (`--quorum N`). */
  quorum?: {
    /** @default 'postgres' */
    backend?: QuorumBackendName;
    /** Connection URL of a Redis or Memcached backend; the PostgreSQL backend uses the knexfile's connection. */
    url?: string;
    /** How long to wait for the other deployers. @default '30min' */
    timeout?: Duration;
    /** How long the applier's lease lasts without renewal before waiters give up on it. @default '15s' */
    lease?: Duration;
  };
  /**
   * Severity per check id (e.g. `'create-index-blocking'`), or `unsafe` for every unsafe-operation
   * check; and `smallTable`: below this many rows in the target database, a table's scan or
   * rewrite holds its lock for milliseconds, so the unsafe-operation findings about it become
   * notes (`0` turns this off). @default { smallTable: 10000 }
   */
  checks?: { smallTable?: number; [id: string]: Severity | number | undefined };
  /** Keep extension type parsers right across PostgreSQL upgrades (see `withHotUpgrade`). @default false */
  hotUpgrade?: boolean | { maxStaleness?: Duration };
  /**
   * Where pending migrations are analysed: `'auto'` creates a temporary database on the target's
   * server and drops it afterwards (capture mode when the role may not create databases); a
   * connection string or object names a scratch database that knex-zd may empty and fill; `false`
   * analyses in capture mode only (nothing runs; the SQL is recorded).
   * @default 'auto' (a string like any URL, accepted as the word itself)
   */
  shadow?: false | string | Record<string, unknown>;
  /**
   * The baseline of a project that adopts knex-zd: this migration file (its name as knex lists it,
   * with or without the extension) and every one before it are exempt from the checks. They are
   * still analysed, run in the shadow database and shown by `migrate:status`.
   * @default none: every migration is checked
   */
  startAfter?: string;
  /**
   * Run the safe form of what a check would refuse, with no change to the migration file:
   * `CREATE INDEX` → `CONCURRENTLY`; `ADD FOREIGN KEY`/`CHECK` → `NOT VALID`, then `VALIDATE` in a
   * transaction of its own; `SET NOT NULL` → through a validated CHECK; `ADD UNIQUE`/`PRIMARY KEY`
   * → a unique index built concurrently, then `USING INDEX`. A migration with such a statement runs
   * outside a transaction. A file opts out with `export const config = { safeByDefault: false }`.
   * @default false
   */
  safeByDefault?: boolean;
}

/** Validated, fully defaulted, frozen settings. */
export interface Settings {
  readonly stages: {
    readonly override: Readonly<Record<string, Stage>>;
    readonly fallback: Stage | null;
    /** True when `fallback` is the built-in default rather than the knexfile's choice. */
    readonly fallbackIsDefault: boolean;
  };
  readonly timeouts: {
    /** The longest `lock_timeout` of one attempt, in milliseconds, or `null` when off. */
    readonly lock: number | null;
    /** `lock_timeout` of attempt 1, 2, … in milliseconds; the last one repeats. Empty when off. */
    readonly lockSchedule: readonly number[];
    /** Milliseconds, or `null` when off. */
    readonly statement: number | null;
    /** Most retries after a lock timeout, or `null`: as many as `total` allows. */
    readonly retries: number | null;
    /** Pause before the first retry, in milliseconds (doubling, with jitter). */
    readonly backoff: number;
    /** Longest pause, in milliseconds. */
    readonly maxBackoff: number;
    /** No retry starts once this many milliseconds have passed since the first attempt; `null`: only `retries` bounds them. */
    readonly total: number | null;
  };
  readonly quorum: {
    readonly backend: QuorumBackendName;
    readonly url: string | null;
    readonly timeout: number;
    readonly lease: number;
  };
  readonly checks: Readonly<Record<string, Severity>>;
  /** `checks.smallTable`: rows below which a table's unsafe-operation findings are notes; `0` when off. */
  readonly smallTable: number;
  readonly hotUpgrade: { readonly enabled: boolean; readonly maxStaleness: number };
  /** How pending migrations are analysed (see {@link ZeroDowntimeOptions.shadow}). */
  readonly shadow: ShadowSetting;
  /** `startAfter`: the last migration exempt from the checks, as written in the knexfile; `null` when none. */
  readonly startAfter: string | null;
  /** Run the safe form of refused statements (see {@link ZeroDowntimeOptions.safeByDefault}). */
  readonly safeByDefault: boolean;
}

/** The `shadow` option, parsed. */
export type ShadowSetting =
  | { readonly mode: 'auto' }
  | { readonly mode: 'database'; readonly connection: string | Readonly<Record<string, unknown>> }
  | { readonly mode: 'off' };

/** @default 'pre-deploy' */
export const DEFAULT_STAGE_FALLBACK: Stage = 'pre-deploy';
/**
 * `lock_timeout` of the attempts of the default, escalating policy: a DDL queued behind a
 * blocker holds the writers queued behind it for at most this long per attempt.
 * @default ['100ms', '200ms', '300ms', '400ms', '500ms']
 */
export const DEFAULT_LOCK_SCHEDULE_MS: readonly number[] = Object.freeze([100, 200, 300, 400, 500]);
/** @default '1min' (with the escalating schedule) */
export const DEFAULT_LOCK_TOTAL_MS = 60_000;
/** @default '50ms' (with the escalating schedule) */
export const DEFAULT_SCHEDULE_BACKOFF_MS = 50;
/** @default '5s' (with the escalating schedule) */
export const DEFAULT_SCHEDULE_MAX_BACKOFF_MS = 5_000;
/** @default '15min' */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 15 * 60_000;
/** @default 5 (with a single `timeouts.lock`) */
export const DEFAULT_RETRIES = 5;
/** @default '1s' (with a single `timeouts.lock`) */
export const DEFAULT_BACKOFF_MS = 1_000;
/** @default '30s' (with a single `timeouts.lock`) */
export const DEFAULT_MAX_BACKOFF_MS = 30_000;
/** @default '30min' */
export const DEFAULT_QUORUM_TIMEOUT_MS = 30 * 60_000;
/** @default '15s' */
export const DEFAULT_QUORUM_LEASE_MS = 15_000;
/** @default '30s' */
export const DEFAULT_HOT_UPGRADE_MAX_STALENESS_MS = 30_000;
/**
 * `checks.smallTable`. At the rates of src/analysis/throughput.ts, a table of 10,000 rows is
 * indexed in ~30 ms, rewritten in ~20 ms (1.5 MB) and fully updated in ~0.1 s: the lock is held
 * for less than the default lock_timeout waits, so a blocking form is no outage there.
 * @default 10000
 */
export const DEFAULT_SMALL_TABLE_ROWS = 10_000;

const SEVERITIES: readonly Severity[] = ['error', 'warning', 'off'];
const BACKENDS: readonly QuorumBackendName[] = ['postgres', 'redis', 'memcached'];
const OPTION = 'zeroDowntime';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectOption(value: unknown, option: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    throw new ConfigError(`${option} must be an object; got ${describe(value)}.`, { details: { option } });
  }
  return value;
}

function rejectUnknownKeys(value: Record<string, unknown>, known: readonly string[], option: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new ConfigError(
        `${option}.${key} is not an option of knex-zero-downtime; the options are: ${known.join(', ')}.`,
        { details: { option: `${option}.${key}` } },
      );
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value;
}

function stageOption(value: unknown, option: string): Stage {
  if (isStage(value)) return value;
  throw new ConfigError(`${option} must be 'pre-deploy' or 'post-deploy'; got ${describe(value)}.`, {
    details: { option, value },
  });
}

function optionalDuration(value: unknown, fallback: number | null, option: string): number | null {
  if (value === undefined) return fallback;
  if (value === false || value === null) return null;
  const ms = parseDuration(value, option);
  return ms === 0 ? null : ms;
}

function integerOption(value: unknown, fallback: number, option: string, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min) return value;
  throw new ConfigError(`${option} must be a whole number of at least ${min}; got ${describe(value)}.`, {
    details: { option, value },
  });
}

/** `lock_timeout` of the attempts, from `timeouts.lock`: `null` when not given (the default schedule applies), `[]` when off. */
function lockScheduleOption(value: unknown, option: string): number[] | null {
  if (value === undefined) return null;
  if (value === false || value === null) return [];
  if (!Array.isArray(value)) {
    const ms = parseDuration(value, option);
    return ms === 0 ? [] : [ms];
  }
  if (value.length === 0) {
    throw new ConfigError(`${option} must list at least one duration (or be one duration, or false to turn lock timeouts off).`, {
      details: { option },
    });
  }
  return value.map((entry, index) => {
    const ms = parseDuration(entry, `${option}[${index}]`);
    if (ms === 0) {
      throw new ConfigError(
        `${option}[${index}] must be longer than 0: a lock_timeout of 0 waits for ever, queueing every later query on the table behind the migration. Leave it out, or turn lock timeouts off with ${option}: false.`,
        { details: { option: `${option}[${index}]` } },
      );
    }
    return ms;
  });
}

function parseTimeouts(raw: unknown): Settings['timeouts'] {
  const option = `${OPTION}.timeouts`;
  if (raw === false) {
    return { lock: null, lockSchedule: [], statement: null, retries: 0, backoff: DEFAULT_BACKOFF_MS, maxBackoff: DEFAULT_MAX_BACKOFF_MS, total: null };
  }
  const t = objectOption(raw, option);
  rejectUnknownKeys(t, ['lock', 'statement', 'retries', 'backoff', 'maxBackoff', 'total'], option);
  const given = lockScheduleOption(t.lock, `${option}.lock`);
  const lockSchedule = given ?? [...DEFAULT_LOCK_SCHEDULE_MS];
  // A single lock_timeout keeps the policy of earlier versions (a fixed wait, a count of
  // retries, backoff from 1s); a list escalates, and its retries are bounded by time.
  const escalating = lockSchedule.length > 1;
  const backoff = t.backoff === undefined ? (escalating ? DEFAULT_SCHEDULE_BACKOFF_MS : DEFAULT_BACKOFF_MS) : parseDuration(t.backoff, `${option}.backoff`);
  const maxBackoff =
    t.maxBackoff === undefined
      ? Math.max(backoff, escalating ? DEFAULT_SCHEDULE_MAX_BACKOFF_MS : DEFAULT_MAX_BACKOFF_MS)
      : parseDuration(t.maxBackoff, `${option}.maxBackoff`);
  if (maxBackoff < backoff) {
    throw new ConfigError(`${option}.maxBackoff (${maxBackoff}ms) must not be shorter than ${option}.backoff (${backoff}ms).`, {
      details: { option: `${option}.maxBackoff` },
    });
  }
  const retries = t.retries === undefined ? (escalating ? null : DEFAULT_RETRIES) : integerOption(t.retries, 0, `${option}.retries`, 0);
  const total = t.total === undefined ? (escalating ? DEFAULT_LOCK_TOTAL_MS : null) : parseDuration(t.total, `${option}.total`);
  return {
    lock: lockSchedule.length === 0 ? null : Math.max(...lockSchedule),
    lockSchedule,
    statement: optionalDuration(t.statement, DEFAULT_STATEMENT_TIMEOUT_MS, `${option}.statement`),
    retries,
    backoff,
    maxBackoff,
    total,
  };
}

/**
 * Parses the untrusted `zeroDowntime` knexfile option into frozen, fully defaulted settings.
 * Throws a {@link ConfigError} naming the option at the first invalid value.
 */
export function parseSettings(raw: unknown): Settings {
  const root = objectOption(raw, OPTION);
  rejectUnknownKeys(root, ['stages', 'timeouts', 'quorum', 'checks', 'hotUpgrade', 'shadow', 'startAfter', 'safeByDefault'], OPTION);

  const stagesRaw = objectOption(root.stages, `${OPTION}.stages`);
  rejectUnknownKeys(stagesRaw, ['override', 'fallback'], `${OPTION}.stages`);
  const overrideRaw = objectOption(stagesRaw.override, `${OPTION}.stages.override`);
  const override: Record<string, Stage> = {};
  for (const [name, stage] of Object.entries(overrideRaw)) {
    override[name] = stageOption(stage, `${OPTION}.stages.override[${JSON.stringify(name)}]`);
  }
  const fallbackIsDefault = stagesRaw.fallback === undefined;
  const fallback = fallbackIsDefault
    ? DEFAULT_STAGE_FALLBACK
    : stagesRaw.fallback === null
      ? null
      : stageOption(stagesRaw.fallback, `${OPTION}.stages.fallback`);

  const timeouts = parseTimeouts(root.timeouts);

  const q = objectOption(root.quorum, `${OPTION}.quorum`);
  rejectUnknownKeys(q, ['backend', 'url', 'timeout', 'lease'], `${OPTION}.quorum`);
  const backend = q.backend === undefined ? 'postgres' : q.backend;
  if (!BACKENDS.includes(backend as QuorumBackendName)) {
    throw new ConfigError(
      `${OPTION}.quorum.backend must be one of ${BACKENDS.map((b) => `'${b}'`).join(', ')}; got ${describe(backend)}.`,
      { details: { option: `${OPTION}.quorum.backend` } },
    );
  }
  if (q.url !== undefined && (typeof q.url !== 'string' || q.url.trim() === '')) {
    throw new ConfigError(`${OPTION}.quorum.url must be a non-empty string; got ${describe(q.url)}.`, {
      details: { option: `${OPTION}.quorum.url` },
    });
  }
  if (backend !== 'postgres' && q.url === undefined) {
    throw new ConfigError(
      `${OPTION}.quorum.url is required for the '${backend as QuorumBackendName}' backend (e.g. ${backend === 'redis' ? "'redis://127.0.0.1:6379'" : "'127.0.0.1:11211'"}).`,
      { details: { option: `${OPTION}.quorum.url` } },
    );
  }
  if (backend !== 'postgres' && typeof q.url === 'string') {
    // Checked whenever the knexfile is read, not only on the deploy that passes --quorum.
    const why = quorumUrlProblem(backend as Exclude<QuorumBackendName, 'postgres'>, q.url);
    if (why !== null) {
      throw new ConfigError(
        `${OPTION}.quorum.url is not a URL of the ${backend as QuorumBackendName} backend: ${why} (e.g. '${QUORUM_URL_EXAMPLES[backend as 'redis' | 'memcached']}').`,
        { details: { option: `${OPTION}.quorum.url` } },
      );
    }
  }
  const quorum: Settings['quorum'] = {
    backend: backend as QuorumBackendName,
    url: (q.url) ?? null,
    timeout: q.timeout === undefined ? DEFAULT_QUORUM_TIMEOUT_MS : parseDuration(q.timeout, `${OPTION}.quorum.timeout`),
    lease: q.lease === undefined ? DEFAULT_QUORUM_LEASE_MS : parseDuration(q.lease, `${OPTION}.quorum.lease`),
  };

  const checksRaw = objectOption(root.checks, `${OPTION}.checks`);
  const checks: Record<string, Severity> = {};
  const smallTable = integerOption(checksRaw.smallTable, DEFAULT_SMALL_TABLE_ROWS, `${OPTION}.checks.smallTable`, 0);
  for (const [id, severity] of Object.entries(checksRaw)) {
    if (id === 'smallTable') continue;
    if (!SEVERITIES.includes(severity as Severity)) {
      throw new ConfigError(
        `${OPTION}.checks[${JSON.stringify(id)}] must be 'error', 'warning' or 'off'; got ${describe(severity)}.`,
        { details: { option: `${OPTION}.checks.${id}` } },
      );
    }
    checks[id] = severity as Severity;
  }

  let hotUpgrade: Settings['hotUpgrade'];
  if (root.hotUpgrade === undefined || typeof root.hotUpgrade === 'boolean') {
    hotUpgrade = { enabled: root.hotUpgrade === true, maxStaleness: DEFAULT_HOT_UPGRADE_MAX_STALENESS_MS };
  } else {
    const h = objectOption(root.hotUpgrade, `${OPTION}.hotUpgrade`);
    rejectUnknownKeys(h, ['maxStaleness'], `${OPTION}.hotUpgrade`);
    hotUpgrade = {
      enabled: true,
      maxStaleness:
        h.maxStaleness === undefined
          ? DEFAULT_HOT_UPGRADE_MAX_STALENESS_MS
          : parseDuration(h.maxStaleness, `${OPTION}.hotUpgrade.maxStaleness`),
    };
  }

  return deepFreeze({
    stages: { override, fallback, fallbackIsDefault },
    timeouts,
    quorum,
    checks,
    smallTable,
    hotUpgrade,
    shadow: shadowOption(root.shadow),
    startAfter: startAfterOption(root.startAfter),
    safeByDefault: booleanOption(root.safeByDefault, false, `${OPTION}.safeByDefault`),
  });
}

function startAfterOption(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(`${OPTION}.startAfter must be the name of a migration file (e.g. '20240101120000_add_users.js'); got ${JSON.stringify(value) ?? typeof value}.`);
  }
  return value;
}

function booleanOption(value: unknown, fallback: boolean, option: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(`${option} must be true or false; got ${describe(value)}.`, { details: { option } });
  return value;
}

function shadowOption(value: unknown): ShadowSetting {
  const option = `${OPTION}.shadow`;
  if (value === undefined || value === 'auto') return { mode: 'auto' };
  if (value === false) return { mode: 'off' };
  if (typeof value === 'string' && value.trim() !== '') {
    if (!/^postgres(ql)?:\/\//.test(value)) {
      throw new ConfigError(`${option} must be 'auto', false, or a postgres:// URL of a scratch database; got ${describe(value)}.`, { details: { option } });
    }
    return { mode: 'database', connection: value };
  }
  if (isPlainObject(value) && typeof value.database === 'string' && value.database !== '') return { mode: 'database', connection: { ...value } };
  throw new ConfigError(
    `${option} must be 'auto', false, a postgres:// URL or a connection object with a database of a scratch database; got ${isPlainObject(value) ? 'an object without database' : describe(value)}.`,
    { details: { option } },
  );
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
