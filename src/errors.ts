/**
 * Error classes of knex-zero-downtime. Every error has a stable `code`; the driver's
 * error, when there is one, is kept as `cause` (with its SQLSTATE in `sqlState`).
 */

/** Options shared by every error of the package. */
export interface ZeroDowntimeErrorOptions {
  /** The error that caused this one (a driver error keeps its SQLSTATE). */
  cause?: unknown;
  /** Evidence for the reader: migration name, stage, statement, quorum state… */
  details?: Readonly<Record<string, unknown>>;
}

/** Base class of every error that knex-zero-downtime throws. */
export class ZeroDowntimeError extends Error {
  /** Stable, machine-readable code, e.g. `ZD_CONFIG`. */
  readonly code: string;
  /** Evidence attached to the error (never includes secrets). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: ZeroDowntimeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = Object.freeze({ ...options.details });
  }

  /** SQLSTATE of the driver error behind this one, if any. */
  get sqlState(): string | undefined {
    return sqlStateOf(this.cause);
  }
}

/** The `zeroDowntime` knexfile option, a CLI flag or a function argument is invalid. */
export class ConfigError extends ZeroDowntimeError {
  constructor(message: string, options?: ZeroDowntimeErrorOptions) {
    super('ZD_CONFIG', message, options);
  }
}

/** A migration's stage is missing, ambiguous, invalid, or the stages are out of order. */
export class StageError extends ZeroDowntimeError {
  constructor(message: string, options?: ZeroDowntimeErrorOptions) {
    super('ZD_STAGE', message, options);
  }
}

/** `check` (or the checks run before a migrate command) found error-level findings. */
export class CheckFailedError extends ZeroDowntimeError {
  constructor(message: string, options?: ZeroDowntimeErrorOptions) {
    super('ZD_CHECK_FAILED', message, options);
  }
}

/** A migration file could not be loaded, or its `up`/`down` failed. */
export class MigrationError extends ZeroDowntimeError {
  constructor(message: string, options?: ZeroDowntimeErrorOptions) {
    super('ZD_MIGRATION', message, options);
  }
}

/** A statement could not get its lock within `lock_timeout`, even after every retry. */
export class LockTimeoutError extends ZeroDowntimeError {
  constructor(message: string, options?: ZeroDowntimeErrorOptions) {
    super('ZD_LOCK_TIMEOUT', message, options);
  }
}

/**
 * A statement that can only get its timeouts as session settings (it cannot run in a
 * transaction block) was refused, before being sent, on a connection through transaction pooling.
 */
export class TransactionPoolingError extends ZeroDowntimeError {
  constructor(message: string, options?: ZeroDowntimeErrorOptions) {
    super('ZD_TRANSACTION_POOLING', message, options);
  }
}

/** An identifier is empty, too long, or otherwise cannot be used safely. */
export class IdentifierError extends ZeroDowntimeError {
  constructor(message: string, options?: ZeroDowntimeErrorOptions) {
    super('ZD_IDENTIFIER', message, options);
  }
}

/** An operation was refused because it is unsafe; the message writes out the safe way. */
export class UnsafeOperationError extends ZeroDowntimeError {
  constructor(message: string, options?: ZeroDowntimeErrorOptions) {
    super('ZD_UNSAFE_OPERATION', message, options);
  }
}

/** Deployers could not agree (backend down, timeout, remote applier failed or vanished). */
export class QuorumError extends ZeroDowntimeError {
  constructor(message: string, options?: ZeroDowntimeErrorOptions) {
    super('ZD_QUORUM', message, options);
  }
}

/** The migration lock is held by another run (and this one must not wait, or waited too long), or it could not be taken. */
export class MigrationLockError extends ZeroDowntimeError {
  constructor(message: string, options?: ZeroDowntimeErrorOptions) {
    super('ZD_MIGRATION_LOCK', message, options);
  }
}

/** The hot-upgrade type registry could not resolve or refresh a type. */
export class HotUpgradeError extends ZeroDowntimeError {
  constructor(message: string, options?: ZeroDowntimeErrorOptions) {
    super('ZD_HOT_UPGRADE', message, options);
  }
}

/** The SQLSTATE of a node-postgres error (or of the first cause in its chain that has one). */
export function sqlStateOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
