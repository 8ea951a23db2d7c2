import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '../../examples/demo/embedded-postgres.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** A memcached server started for one test file, on a free port. */
export interface TestMemcached {
  readonly port: number;
  /** `127.0.0.1:<port>`, as the memcached quorum backend takes it. */
  readonly url: string;
  /** Stops the server and starts an empty one on the same port (a crash and restart). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export { freePort };

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs}ms`);
    await sleep(50);
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** Starts `memcached` on a free port (run as `nobody` when the tests run as root). */
export async function startMemcached(): Promise<TestMemcached> {
  const port = await freePort();
  const args = ['-p', String(port), '-U', '0', '-l', '127.0.0.1', '-m', '16'];
  if (process.getuid?.() === 0) args.push('-u', 'nobody');
  let child: ChildProcess;
  const start = async (): Promise<void> => {
    child = spawn('memcached', args, { stdio: 'ignore' });
    child.once('error', () => undefined);
    await waitForPort(port);
  };
  await start();
  return {
    port,
    url: `127.0.0.1:${port}`,
    async restart() {
      await stopProcess(child);
      await start();
    },
    async stop() {
      await stopProcess(child);
    },
  };
}
