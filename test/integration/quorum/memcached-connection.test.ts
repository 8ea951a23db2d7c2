/**
 * The memcached backend when the server closes a connection with a request in flight (a restart):
 * in a file of its own, so that its proxy does not share an event loop with dozens of deployers.
 */
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { MemcachedQuorumBackend } from '../../../src/quorum/memcached-quorum.js';
import { startMemcached } from '../../helpers/memcached.js';
/**
 * A TCP proxy in front of memcached that can swallow the next request and close the connection
 * gracefully, as a memcached killed mid-request does (the case where memjs neither answers nor fails).
 */
async function startDroppingProxy(targetPort: number): Promise<{ port: number; dropNext(): void; close(): Promise<void> }> {
  let drop = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    client.on('data', (chunk) => {
      if (drop) {
        drop = false;
        client.end();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    dropNext: () => (drop = true),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('memcached: a request in flight when the server closes the connection fails within the timeout, and the backend recovers', async (t) => {
  const memcached = await startMemcached();
  const proxy = await startDroppingProxy(memcached.port);
  const backend = new MemcachedQuorumBackend({ url: `127.0.0.1:${proxy.port}`, connectTimeoutMs: 3000 });
  t.teardown(async () => {
    await backend.close();
    await proxy.close();
    await memcached.stop();
  });
  await backend.connect();
  proxy.dropNext();
  const started = Date.now();
  // Before the deadline existed, this read never settled: a deployer with nothing else to wait on then exited with no outcome.
  const outcome = await Promise.race([
    backend.read('ns', 0).then(
      () => 'answered',
      (error: Error) => error.message,
    ),
    sleep(40_000).then(() => 'never settled'),
  ]);
  // The deadline: memjs's two attempts (connection + request timeout each), plus a second.
  t.regex(outcome, /^memcached did not answer a get within 13000ms$/);
  t.true(Date.now() - started < 30_000);
  t.like(await backend.read('ns', 0), { arrived: 0, decision: null, outcome: null }, 'a new connection answers');
});
