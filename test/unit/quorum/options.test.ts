import test from 'ava';
import { parseSettings } from '../../../src/config.js';
import { ConfigError, QuorumError } from '../../../src/errors.js';
import { createQuorumBackend, validateQuorumUrl } from '../../../src/quorum/create-backend.js';
import { formatQuorumEvent } from '../../../src/quorum/events.js';
import { loadOptionalPeer } from '../../../src/quorum/load-optional.js';
import { quorumNamespace } from '../../../src/quorum/namespace.js';
import { resolveQuorumOptions } from '../../../src/quorum/resolve-options.js';

const settings = parseSettings({}).quorum;
const plan = [
  { name: '001_a.js', direction: 'up' as const },
  { name: '002_b.js', direction: 'up' as const },
];

test('quorumNamespace is stable, and differs with the plan, its order, the stage and the database', (t) => {
  const base = quorumNamespace({ plan, stage: 'pre-deploy', database: 'db:5432/app' });
  t.regex(base, /^[0-9a-f]{32}$/);
  t.is(quorumNamespace({ plan: [...plan], stage: 'pre-deploy', database: 'db:5432/app' }), base);
  const others = [
    quorumNamespace({ plan: [...plan].reverse(), stage: 'pre-deploy', database: 'db:5432/app' }),
    quorumNamespace({ plan: plan.slice(0, 1), stage: 'pre-deploy', database: 'db:5432/app' }),
    quorumNamespace({ plan: [{ name: '001_a.js', direction: 'down' }, plan[1]], stage: 'pre-deploy', database: 'db:5432/app' }),
    quorumNamespace({ plan, stage: null, database: 'db:5432/app' }),
    quorumNamespace({ plan, stage: 'pre-deploy', database: 'db:5432/other' }),
  ];
  t.is(new Set([base, ...others]).size, 6);
});

test('resolveQuorumOptions: no --quorum, no quorum', (t) => {
  t.is(resolveQuorumOptions({}, settings), null);
  t.throws(() => resolveQuorumOptions({ quorumTimeout: '60' }, settings), {
    instanceOf: ConfigError,
    message: '--quorum-timeout, --quorum-backend and --quorum-url only apply with --quorum N.',
  });
});

test('resolveQuorumOptions: defaults from the settings, flags over them', (t) => {
  t.deepEqual(resolveQuorumOptions({ quorum: '3' }, settings), {
    size: 3,
    timeoutMs: 30 * 60_000,
    leaseMs: 15_000,
    backend: 'postgres',
    url: null,
  });
  t.deepEqual(
    resolveQuorumOptions({ quorum: 2, quorumTimeout: '90', quorumBackend: 'redis', quorumUrl: 'redis://r:6379' }, settings),
    { size: 2, timeoutMs: 90_000, leaseMs: 15_000, backend: 'redis', url: 'redis://r:6379' },
  );
  const redisSettings = parseSettings({ quorum: { backend: 'redis', url: 'redis://cache:6379', lease: '5s' } }).quorum;
  t.like(resolveQuorumOptions({ quorum: '4' }, redisSettings), { backend: 'redis', url: 'redis://cache:6379', leaseMs: 5000 });
});

test('resolveQuorumOptions: N < 1 and non-numbers are refused with the flag named', (t) => {
  for (const quorum of ['0', '-1', 'abc', '2.5', '', 0]) {
    const error = t.throws(() => resolveQuorumOptions({ quorum }, settings), { instanceOf: ConfigError });
    t.regex(error.message, /^--quorum must be the number of deployers that run this deploy, a whole number of at least 1; got /);
    t.regex(error.message, /knex-zd migrate:latest --pre-deploy --quorum 3$/);
  }
  for (const quorumTimeout of ['0', 'soon', '-5']) {
    t.throws(() => resolveQuorumOptions({ quorum: '2', quorumTimeout }, settings), {
      instanceOf: ConfigError,
      message: /^--quorum-timeout must be a number of seconds greater than 0; got /,
    });
  }
  t.throws(() => resolveQuorumOptions({ quorum: '2', quorumBackend: 'etcd' }, settings), {
    instanceOf: ConfigError,
    message: `--quorum-backend must be one of 'postgres', 'redis', 'memcached'; got "etcd".`,
  });
});

test('backend URLs are validated before connecting', (t) => {
  t.notThrows(() => validateQuorumUrl('redis', 'redis://:secret@cache:6379/2'));
  t.notThrows(() => validateQuorumUrl('redis', 'rediss://cache:6380'));
  t.notThrows(() => validateQuorumUrl('memcached', '127.0.0.1:11211'));
  t.notThrows(() => validateQuorumUrl('memcached', 'memcached://user:pw@a:11211,b:11212'));
  t.throws(() => validateQuorumUrl('redis', 'http://cache:6379'), { message: /'http:' is not redis: or rediss:/ });
  t.throws(() => validateQuorumUrl('redis', 'not a url'), { message: /'not a url' is not a URL/ });
  t.throws(() => validateQuorumUrl('redis', undefined), {
    instanceOf: ConfigError,
    message: /^The redis quorum backend needs a URL \(zeroDowntime\.quorum\.url or --quorum-url\): none was given\. For example:\n\n {4}--quorum-backend redis --quorum-url redis:\/\/127\.0\.0\.1:6379$/,
  });
  t.throws(() => validateQuorumUrl('memcached', 'a b:1'), { message: /'a b:1' is not host:port/ });
  t.throws(() => validateQuorumUrl('memcached', 'cache:99999'), { message: /port 99999 is out of range/ });
  t.throws(() => resolveQuorumOptions({ quorum: '2', quorumBackend: 'memcached' }, settings), { message: /none was given/ });
});

test('createQuorumBackend: the postgres backend needs knex; unknown names are refused', async (t) => {
  await t.throwsAsync(createQuorumBackend({ backend: 'postgres' }), { instanceOf: ConfigError, message: /needs the knex instance/ });
  await t.throwsAsync(createQuorumBackend({ backend: 'etcd' as 'redis' }), { instanceOf: ConfigError, message: /^Unknown quorum backend "etcd"/ });
});

test('a missing optional peer is a QuorumError that says what to install', async (t) => {
  const error = await t.throwsAsync(loadOptionalPeer('knex-zd-no-such-package', 'redis'), { instanceOf: QuorumError });
  t.is(
    error.message,
    "The 'redis' quorum backend needs the 'knex-zd-no-such-package' package, which is not installed.\n" +
      'Install it next to knex-zero-downtime:\n\n    npm install knex-zd-no-such-package\n\n' +
      "or use the PostgreSQL backend, which needs nothing more:\n\n    zeroDowntime: { quorum: { backend: 'postgres' } }",
  );
});

test('progress lines for the CLI', (t) => {
  t.is(formatQuorumEvent({ type: 'waiting', arrived: 3, size: 5 }), 'quorum: 3 of 5 deployers arrived');
  t.is(
    formatQuorumEvent({ type: 'applying', applier: 'ci-7:42:ab12cd', self: false }),
    'quorum: all deployers arrived; ci-7:42:ab12cd applies the plan, waiting for it',
  );
  t.is(
    formatQuorumEvent({ type: 'applied', applier: 'ci-7:42:ab12cd', self: false, summary: 'batch 4: 2 migrations' }),
    'quorum: applied by ci-7:42:ab12cd: batch 4: 2 migrations',
  );
  t.is(formatQuorumEvent({ type: 'skipped', reason: 'size-1' }), 'quorum: --quorum 1, applying without coordination');
});
