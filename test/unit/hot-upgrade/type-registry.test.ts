import test from 'ava';
import { once } from 'node:events';
import { HotUpgradeError } from '../../../src/errors.js';
import type { TypeParsingClient } from '../../../src/hot-upgrade/connection-types.js';
import { RESOLVE_TYPES_SQL } from '../../../src/hot-upgrade/server-types.js';
import type { TypeParser } from '../../../src/hot-upgrade/type-definition.js';
import { TypeRegistry, type ServerChangeEvent } from '../../../src/hot-upgrade/type-registry.js';

/** A stand-in for a pg Client: answers the lookup from `catalog`, keeps per-client parsers like pg does. */
class FakeClient implements TypeParsingClient {
  readonly queries: Array<{ text: string; values: unknown[] }> = [];
  readonly parsers = new Map<number, TypeParser>();
  fail = false;
  constructor(public catalog: { versionNum: number; types: Array<[string, number, number]> }) {}
  query(config: { text: string; values: unknown[] }) {
    this.queries.push(config);
    if (this.fail) return Promise.reject(new Error('connection lost'));
    const wanted = config.values[0] as string[];
    const types = this.catalog.types
      .filter(([name]) => wanted.includes(name))
      .map(([name, oid, arrayOid]) => [String(oid), 'public', name, String(arrayOid), true]);
    const snapshot = JSON.stringify({ versionNum: String(this.catalog.versionNum), version: String(this.catalog.versionNum), types });
    return Promise.resolve({ rows: [{ snapshot }] });
  }
  setTypeParser(oid: number, _format: 'text', parser: TypeParser) {
    this.parsers.set(oid, parser);
  }
  getTypeParser(oid: number): TypeParser {
    return this.parsers.get(oid) ?? ((text: string) => `default:${oid}:${text}`);
  }
  parse(oid: number, text: string) {
    return this.getTypeParser(oid)(text);
  }
}

const pg15 = { versionNum: 150020, types: [['hstore', 16385, 16390], ['citext', 16400, 16405]] as Array<[string, number, number]> };
const pg17 = { versionNum: 170010, types: [['citext', 16385, 16390], ['hstore', 16410, 16415]] as Array<[string, number, number]> };

test('no registered type: no query, ever', async (t) => {
  const registry = new TypeRegistry();
  const client = new FakeClient(pg15);
  await registry.prepareConnection(client);
  t.true(await registry.revalidateConnection(client));
  t.deepEqual(client.queries, []);
});

test('a new connection looks its OIDs up once and parses by them', async (t) => {
  const registry = new TypeRegistry({ types: ['hstore', 'citext'] });
  const client = new FakeClient(pg15);
  await registry.prepareConnection(client);
  t.deepEqual(client.queries, [{ text: RESOLVE_TYPES_SQL, values: [['hstore', 'citext']] }]);
  t.deepEqual(client.parse(16385, '"a"=>"1"'), { a: '1' });
  t.deepEqual(client.parse(16390, '{"a=>1",NULL}'), [{ a: '1' }, null]);
  t.is(client.parse(16400, 'Mixed'), 'Mixed');
  t.deepEqual(client.parse(16405, '{a,"b c"}'), ['a', 'b c']);
  t.is(registry.server?.versionNum, 150020);
  t.deepEqual(registry.serverOf(client)?.types.hstore, { oid: 16385, arrayOid: 16390 });
});

test('a pooled connection looks again only once maxStaleness has passed since its last lookup was sent', async (t) => {
  let now = 1000;
  const registry = new TypeRegistry({ types: ['hstore'], maxStaleness: '30s', now: () => now });
  const client = new FakeClient(pg15);
  await registry.prepareConnection(client);
  now += 29_999;
  t.true(await registry.revalidateConnection(client));
  t.is(client.queries.length, 1);
  now += 1;
  t.true(await registry.revalidateConnection(client));
  t.is(client.queries.length, 2);
  t.true(await registry.revalidateConnection(client));
  t.is(client.queries.length, 2);
});

test('after a server switch, the next lookup moves every parser and restores the OIDs given back', async (t) => {
  let now = 0;
  const registry = new TypeRegistry({ types: ['hstore', 'citext'], maxStaleness: 100, now: () => now });
  const events: ServerChangeEvent[] = [];
  registry.on('serverChange', (event) => events.push(event));
  const client = new FakeClient(pg15);
  await registry.prepareConnection(client);

  client.catalog = pg17;
  // Inside the window the old parsers are still in place: 16385 is now citext but parsed as hstore.
  t.deepEqual(client.parse(16385, 'a=>b'), { a: 'b' });
  now = 100;
  t.true(await registry.revalidateConnection(client));
  t.is(client.parse(16385, 'Mixed'), 'Mixed');
  t.deepEqual(client.parse(16410, 'a=>b'), { a: 'b' });
  t.deepEqual(client.parse(16415, '{"a=>b"}'), [{ a: 'b' }]);
  t.is(client.parse(16400, 'x'), 'default:16400:x', 'the old citext OID is back to its original parser');

  await once(registry, 'serverChange');
  t.is(events.length, 1);
  t.is(events[0].previous.versionNum, 150020);
  t.is(events[0].current.versionNum, 170010);
  t.deepEqual(
    events[0].moved.map((m) => [m.name, m.from.oid, m.to.oid]),
    [
      ['hstore', 16385, 16410],
      ['citext', 16400, 16385],
    ],
  );
});

test('registering a type makes every connection look again before its next use', async (t) => {
  const registry = new TypeRegistry({ types: ['hstore'], maxStaleness: '1h' });
  const client = new FakeClient(pg15);
  await registry.prepareConnection(client);
  registry.registerType('citext', (text) => text.toLowerCase(), { array: false });
  t.true(await registry.revalidateConnection(client));
  t.is(client.queries.length, 2);
  t.deepEqual(client.queries[1].values, [['hstore', 'citext']]);
  t.is(client.parse(16400, 'MiXed'), 'mixed');
  t.is(client.parse(16405, '{A}'), 'default:16405:{A}', 'array: false leaves the array type alone');
});

test('a failed lookup: prepare throws a HotUpgradeError with the cause, revalidate says false', async (t) => {
  const registry = new TypeRegistry({ types: ['hstore'], maxStaleness: 0 });
  const client = new FakeClient(pg15);
  client.fail = true;
  const error = await t.throwsAsync(registry.prepareConnection(client), { instanceOf: HotUpgradeError });
  t.regex(error.message, /^Could not look up the OIDs of the types hstore on a connection/);
  t.is((error.cause as Error).message, 'connection lost');
  t.false(await registry.revalidateConnection(client));
});

test('registerType validates its input', (t) => {
  const registry = new TypeRegistry();
  t.throws(() => registry.registerType('geometry'), {
    code: 'ZD_CONFIG',
    message:
      '"geometry" is not a built-in type of the hot-upgrade registry (those are hstore, citext); register it with its parser instead: { name: "geometry", parse: (text) => … }.',
  });
  t.throws(() => registry.registerType({ name: 'x' } as never), { code: 'ZD_CONFIG' });
  t.throws(() => new TypeRegistry({ maxStaleness: 'soon' }), { code: 'ZD_CONFIG' });
  registry.registerType('vector', (text) => JSON.parse(text) as number[]);
  t.deepEqual(registry.types.map((type) => type.name), ['vector']);
  t.deepEqual(registry.types[0].parse('[1,2.5,3]'), [1, 2.5, 3]);
});
