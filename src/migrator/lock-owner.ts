import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

/** Who runs a migration command: what the other deployers see of the migration lock's holder. */
export interface LockOwnerIdentity {
  /** The machine's host name (shown to people; never trusted on its own to find the process). */
  readonly host: string;
  readonly pid: number;
  /** What the owner runs, e.g. `knex-zd migrate:latest --pre-deploy` (passwords in URLs masked). */
  readonly command: string;
  /**
   * Where the owner's process can be checked from another process: kernel boot id, pid namespace,
   * pid and the process's start time (Linux). Null elsewhere: the lease alone then decides.
   */
  readonly processKey: string | null;
}

/** What a process can tell about the process that holds the lock. */
export type OwnerProcessState =
  /** Same boot and pid namespace, and that pid still runs the same process. */
  | 'alive'
  /** Same boot and pid namespace, and the process is gone (or its pid now runs another process, or it is a zombie). */
  | 'gone'
  /** Another machine or container, or no way to tell: only the lease says. */
  | 'unknown';

const MAX_COMMAND_LENGTH = 300;

/** `user:password@` in URLs of a command line, with the password masked. */
export function maskCommand(command: string): string {
  const masked = command.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]*@/gi, '$1***@');
  return masked.length > MAX_COMMAND_LENGTH ? `${masked.slice(0, MAX_COMMAND_LENGTH - 1)}…` : masked;
}

/** The command line of this process, as a person would have typed it: `knex-zd migrate:latest --pre-deploy`. */
export function currentCommand(argv: readonly string[] = process.argv): string {
  const script = argv[1] === undefined ? path.basename(argv[0] ?? 'node') : path.basename(argv[1]);
  const name = /^(bin|cli)\.[cm]?js$/.test(script) && /knex-zero-downtime|knex-zd|dist[\\/]cli/.test(argv[1] ?? '') ? 'knex-zd' : script;
  return maskCommand([name, ...argv.slice(2)].join(' '));
}

interface ProcStat {
  readonly state: string;
  readonly startTime: string;
}

/** State and start time (clock ticks since boot) of a process, from `/proc/<pid>/stat`; null when it does not exist. */
function procStat(pid: number | 'self'): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined) return null;
  return { state, startTime };
}

function machineKey(): string | null {
  if (process.platform !== 'linux') return null;
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidNamespace = readlinkSync('/proc/self/ns/pid');
    return `${bootId}/${pidNamespace}`;
  } catch {
    return null;
  }
}

let cachedKey: string | null | undefined;

/** This process's key (see {@link LockOwnerIdentity.processKey}). */
export function currentProcessKey(): string | null {
  if (cachedKey !== undefined) return cachedKey;
  const machine = machineKey();
  const self = machine === null ? null : procStat('self');
  cachedKey = machine === null || self === null ? null : `${machine}/${process.pid}/${self.startTime}`;
  return cachedKey;
}

/** This process as a lock owner. */
export function currentOwner(command = currentCommand()): LockOwnerIdentity {
  return { host: hostname(), pid: process.pid, command: maskCommand(command), processKey: currentProcessKey() };
}

/**
 * Whether the process behind `processKey` still runs, as far as this process can tell: only when
 * both run on the same kernel boot and in the same pid namespace (a container sharing the host
 * name with another one is not fooled), and the pid still runs the process that took the lock.
 */
export function ownerProcessState(processKey: string | null, self: string | null = currentProcessKey()): OwnerProcessState {
  if (processKey === null || self === null) return 'unknown';
  const theirs = /^(.+)\/(\d+)\/(\d+)$/.exec(processKey);
  const ours = /^(.+)\/(\d+)\/(\d+)$/.exec(self);
  if (theirs === null || ours === null || theirs[1] !== ours[1]) return 'unknown';
  const stat = procStat(Number(theirs[2]));
  if (stat === null || stat.startTime !== theirs[3] || stat.state === 'Z' || stat.state === 'X') return 'gone';
  return 'alive';
}
