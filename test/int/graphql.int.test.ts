import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { buildClientSchema, buildSchema, getIntrospectionQuery, printSchema, type IntrospectionQuery } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { RecordApi } from '../../apps/gateway/src';
import { SDL_PATH } from '../../apps/gateway/src/graphql/endpoint';
import { accountWithToken } from '../support/accounts';
import { startLiveGateway, type LiveGateway } from '../support/live-gateway';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { expectEventually } from '../support/expect-eventually';

/**
 * The GraphQL API of a real gateway over a real record service: queries, mutations and their
 * errors, DataLoader batching, limits, persisted queries, GraphiQL, isolation between accounts,
 * and subscriptions fed by the change feed through the relay and the in-process event bus.
 */

let gateway: LiveGateway;
let api: LiveGateway['api'];
let app: LiveGateway['app'];
let http: LiveGateway['http'];
/** Calls each RecordService method received, by name. */
const calls = new Map<string, number>();
const admin = `Bearer ${TEST_ADMIN_TOKEN}`;

interface GraphQLReply {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string } }>;
}

function counting(records: RecordApi['records']): RecordApi['records'] {
  return new Proxy(records, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function gql(query: string, variables: Record<string, unknown> = {}, auth: string | null = admin) {
  const req = request(app).post('/graphql').set('content-type', 'application/json');
  if (auth !== null) req.set('authorization', auth);
  const res = await req.send({ query, variables });
  return { status: res.status, body: res.body as GraphQLReply };
}

/** The data of a reply that must have no errors (as loosely typed as supertest's body: tests read it by path). */
async function data(query: string, variables: Record<string, unknown> = {}, auth = admin) {
  const res = await request(app)
    .post('/graphql')
    .set('content-type', 'application/json')
    .set('authorization', auth)
    .send({ query, variables });
  expect(res.body.errors).toBeUndefined();
  return res.body.data;
}

const codesOf = (reply: GraphQLReply) => (reply.errors ?? []).map((e) => e.extensions?.code);

beforeAll(async () => {
  gateway = await startLiveGateway({
    wrap: (inner) => ({ ...inner, records: counting(inner.records) }),
    graphql: { maxDepth: 8, maxComplexity: 5000, maxPage: 200, introspection: true },
  });
  ({ api, app, http } = gateway);
  await data(`mutation { createCollection(input: { space: "default", name: "notes" }) { name } }`);
});

afterAll(() => gateway.close());

describe('the schema', () => {
  it('is served exactly as committed in schema.graphql', async () => {
    const introspection = (await data(getIntrospectionQuery({ schemaDescription: true }))) as IntrospectionQuery;
    const committed = printSchema(buildSchema(readFileSync(SDL_PATH, 'utf8')));
    expect(printSchema(buildClientSchema(introspection))).toBe(committed);
  });

  it('serves GraphiQL and its assets from the gateway, never from a CDN', async () => {
    const page = await request(app).get('/graphql').set('accept', 'text/html').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const sources = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(sources).toHaveLength(5);
    for (const source of sources) {
      expect(source).toMatch(/^\/graphql\/assets\//);
      const asset = await request(app).get(source).expect(200);
      expect(asset.headers['content-type']).toMatch(/^text\/(javascript|css)/);
      expect(Number(asset.headers['content-length'])).toBeGreaterThan(100);
    }
    expect(page.text).not.toMatch(/https?:\/\//);
    await request(app).get('/graphql/assets/nothing.js').expect(404);
  });
});

describe('queries', () => {
  beforeAll(async () => {
    const records = Array.from({ length: 30 }, (_, i) => ({
      key: `item/${String(i).padStart(2, '0')}`,
      json: { n: i },
    }));
    await data(
      `mutation($records: [RecordInput!]!) {
        putRecords(input: { space: "default", collection: "notes", records: $records }) { createdCount }
      }`,
      { records: [...records, { key: 'raw', valueBase64: Buffer.from([0, 255, 1]).toString('base64') }] },
    );
  });

  it('answers me, spaces and a space', async () => {
    const result = await data(
      `{ me { account admin via scopes { space } } spaces { name kind } space(name: "default") { name kind created } missing: space(name: "nope") { name } }`,
    );
    expect(result.me).toEqual({ account: 'admin', admin: true, via: 'token', scopes: [] });
    expect(result.spaces).toEqual(expect.arrayContaining([{ name: 'default', kind: 'shared' }]));
    expect(result.space).toMatchObject({ name: 'default', kind: 'shared' });
    expect(result.missing).toBeNull();
  });

  it('reads a record as text, JSON and Base64, and null for an absent key', async () => {
    const result = await data(`{
      json: record(space: "default", collection: "notes", key: "item/03") { key value json valueBase64 contentType size revision createdRevision created updated collection { name } }
      raw: record(space: "default", collection: "notes", key: "raw") { value json valueBase64 contentType size }
      none: record(space: "default", collection: "notes", key: "absent") { key }
    }`);
    expect(result.json).toMatchObject({
      key: 'item/03',
      value: '{"n":3}',
      json: { n: 3 },
      valueBase64: Buffer.from('{"n":3}').toString('base64'),
      contentType: 'application/json',
      size: 7,
      collection: { name: 'notes' },
    });
    expect(result.json.revision).toBe(result.json.createdRevision);
    expect(result.json.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(result.raw).toEqual({
      value: null,
      json: null,
      valueBase64: 'AP8B',
      contentType: 'application/octet-stream',
      size: 3,
    });
    expect(result.none).toBeNull();
  });

  it('pages a connection to the end with cursors, and filters by prefix, range, pattern and time', async () => {
    const keys: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page = await data(
        `query($after: String) { collection(space: "default", name: "notes") {
          records(first: 7, after: $after, filter: { prefix: "item/" }) {
            edges { cursor node { key } } pageInfo { hasNextPage endCursor hasPreviousPage } totalCount
          } } }`,
        { after },
      );
      const connection = page.collection.records;
      expect(connection.totalCount).toBe(30);
      keys.push(...connection.edges.map((e: { node: { key: string } }) => e.node.key));
      pages += 1;
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
      expect(connection.edges.at(-1).cursor).toBe(after);
    }
    expect(pages).toBe(5);
    expect(keys).toEqual(Array.from({ length: 30 }, (_, i) => `item/${String(i).padStart(2, '0')}`));

    const now = new Date(Date.now() + 60_000).toISOString();
    const filtered = await data(
      `query($now: DateTime) { collection(space: "default", name: "notes") {
        range: keys(filter: { start: "item/10", end: "item/12" }) { nodes { key } }
        pattern: keys(filter: { pattern: "item/?5" }) { nodes { key } }
        later: keys(filter: { createdAfter: $now }) { nodes { key } }
        earlier: count(filter: { createdBefore: $now })
        reversed: records(first: 2, reverse: true) { nodes { key } }
        byCreation: records(first: 2, order: CREATED) { nodes { key } }
      } }`,
      { now },
    );
    const c = filtered.collection;
    expect(c.range.nodes.map((n: { key: string }) => n.key)).toEqual(['item/10', 'item/11', 'item/12']);
    expect(c.pattern.nodes.map((n: { key: string }) => n.key)).toEqual(['item/05', 'item/15', 'item/25']);
    expect(c.later.nodes).toEqual([]);
    expect(c.earlier).toBe(31);
    expect(c.reversed.nodes.map((n: { key: string }) => n.key)).toEqual(['raw', 'item/29']);
    expect(c.byCreation.nodes.map((n: { key: string }) => n.key)).toEqual(['item/00', 'item/01']);
  });

  it('batches record lookups: many keys of a page cost one call to the record service', async () => {
    const aliases = Array.from(
      { length: 25 },
      (_, i) => `r${i}: record(key: "item/${String(i).padStart(2, '0')}") { key json }`,
    );
    calls.clear();
    const result = await data(`{ collection(space: "default", name: "notes") { ${aliases.join('\n')} } }`);
    expect(Object.keys(result.collection)).toHaveLength(25);
    expect(result.collection.r7).toEqual({ key: 'item/07', json: { n: 7 } });
    expect(calls.get('batchGet')).toBe(1);
    expect(calls.get('getRecord')).toBeUndefined();

    calls.clear();
    const page = await data(`{ collection(space: "default", name: "notes") {
      records(first: 30) { nodes { key collection { name maxValueBytes } } } } }`);
    expect(page.collection.records.nodes).toHaveLength(30);
    expect([...calls.entries()]).toEqual([['scan', 1]]);
  });

  it('lists collections as a connection, with stats and counts', async () => {
    await data(
      `mutation { createCollection(input: { space: "default", name: "other", tags: { team: "x" } }) { name } }`,
    );
    const result = await data(`{ space(name: "default") {
      collections(first: 1) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } }
      collection(name: "notes") { stats { records bytes lastModified } count versioned tags }
    } }`);
    const first = result.space.collections;
    expect(first.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['notes']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const next = await data(
      `query($after: String) { space(name: "default") { collections(first: 10, after: $after) { nodes { name tags } } } }`,
      { after: first.pageInfo.endCursor },
    );
    expect(next.space.collections.nodes).toEqual([{ name: 'other', tags: { team: 'x' } }]);
    expect(result.space.collection).toMatchObject({ count: 31, versioned: false, tags: {} });
    expect(result.space.collection.stats.records).toBe(31);
  });
});

describe('mutations', () => {
  const put = `mutation($input: PutRecordInput!) { putRecord(input: $input) { created record { key value revision } } }`;
  const target = { space: 'default', collection: 'notes' };

  it('writes with compare-and-set and create-only, and refuses a stale revision', async () => {
    const first = await data(put, { input: { ...target, key: 'cas', value: 'one', createOnly: true } });
    expect(first.putRecord).toMatchObject({ created: true, record: { key: 'cas', value: 'one' } });
    const revision = first.putRecord.record.revision as number;

    const again = await gql(put, { input: { ...target, key: 'cas', value: 'two', createOnly: true } });
    expect(codesOf(again.body)).toEqual(['RECORD_EXISTS']);
    const cas = await data(put, { input: { ...target, key: 'cas', value: 'two', expectedRevision: revision } });
    expect(cas.putRecord.record.value).toBe('two');
    const stale = await gql(put, {
      input: { ...target, key: 'cas', value: 'three', expectedRevision: String(revision) },
    });
    expect(codesOf(stale.body)).toEqual(['REVISION_MISMATCH']);
    const read = await data(`{ record(space: "default", collection: "notes", key: "cas") { value } }`);
    expect(read.record.value).toBe('two');
  });

  it('writes many records all or nothing', async () => {
    const many = `mutation($records: [RecordInput!]!) {
      putRecords(input: { space: "default", collection: "notes", records: $records }) { createdCount records { key revision } } }`;
    const ok = await data(many, {
      records: [
        { key: 'm/1', value: 'a' },
        { key: 'm/2', json: [1, 2] },
      ],
    });
    expect(ok.putRecords.createdCount).toBe(2);
    expect(ok.putRecords.records.map((r: { key: string }) => r.key)).toEqual(['m/1', 'm/2']);

    const duplicate = await gql(many, {
      records: [
        { key: 'm/3', value: 'a' },
        { key: 'm/3', value: 'b' },
      ],
    });
    expect(codesOf(duplicate.body)).toEqual(['DUPLICATE_KEY']);
    const conflict = await gql(many, {
      records: [
        { key: 'm/4', value: 'a' },
        { key: 'm/1', value: 'b', createOnly: true },
      ],
    });
    expect(codesOf(conflict.body)).toEqual(['RECORD_EXISTS']);
    const count = await data(`{ collection(space: "default", name: "notes") { count(filter: { prefix: "m/" }) } }`);
    expect(count.collection.count).toBe(2);
  });

  it('deletes a record, conditionally, and small sets by pattern; hands large sets to a job', async () => {
    const del = `mutation($input: DeleteRecordInput!) { deleteRecord(input: $input) { deleted revision } }`;
    const written = await data(put, { input: { ...target, key: 'gone', value: 'x' } });
    const stale = await gql(del, { input: { ...target, key: 'gone', expectedRevision: 1 } });
    expect(codesOf(stale.body)).toEqual(['REVISION_MISMATCH']);
    const removed = await data(del, {
      input: { ...target, key: 'gone', expectedRevision: written.putRecord.record.revision },
    });
    expect(removed.deleteRecord.deleted).toBe(true);
    expect(removed.deleteRecord.revision).toBeGreaterThan(written.putRecord.record.revision);
    expect((await data(del, { input: { ...target, key: 'gone' } })).deleteRecord).toEqual({
      deleted: false,
      revision: null,
    });

    const bulk = `mutation($filter: RecordFilter!, $limit: Int) {
      deleteRecords(input: { space: "default", collection: "notes", filter: $filter, limit: $limit }) {
        deleted job { id state total } } }`;
    const tooMany = await data(bulk, { filter: { prefix: 'item/' }, limit: 5 });
    expect(tooMany.deleteRecords).toEqual({
      deleted: 0,
      job: { id: expect.stringMatching(/^\d+$/), state: 'QUEUED', total: 30 },
    });
    // No worker runs here: the call itself deleted nothing, and its job waits until cancelled.
    const cancel = `mutation($id: ID!) { cancelJob(input: { space: "default", id: $id }) { state done } }`;
    expect((await data(cancel, { id: tooMany.deleteRecords.job.id })).cancelJob).toEqual({
      state: 'CANCELLED',
      done: 0,
    });
    expect(
      (await data(`{ collection(space: "default", name: "notes") { count(filter: { prefix: "item/" }) } }`)).collection
        .count,
    ).toBe(30);
    const few = await data(bulk, { filter: { pattern: 'item/2*' }, limit: 10 });
    expect(few.deleteRecords).toEqual({ deleted: 10, job: null });
    expect(
      (await data(`{ collection(space: "default", name: "notes") { count(filter: { prefix: "item/" }) } }`)).collection
        .count,
    ).toBe(20);
  });

  it('creates, updates and deletes collections', async () => {
    const created = await data(
      `mutation { createCollection(input: { space: "default", name: "tmp", maxValueBytes: 1024, tags: { a: "1" } }) { name maxValueBytes tags versioned } }`,
    );
    expect(created.createCollection).toEqual({ name: 'tmp', maxValueBytes: 1024, tags: { a: '1' }, versioned: false });
    const exists = await gql(`mutation { createCollection(input: { space: "default", name: "tmp" }) { name } }`);
    expect(codesOf(exists.body)).toEqual(['COLLECTION_EXISTS']);
    const updated = await data(
      `mutation { updateCollection(input: { space: "default", name: "tmp", tags: { b: "2" }, maxValueBytes: 2048 }) { maxValueBytes tags } }`,
    );
    expect(updated.updateCollection).toEqual({ maxValueBytes: 2048, tags: { a: '1', b: '2' } });
    const tooBig = await gql(put, {
      input: { space: 'default', collection: 'tmp', key: 'k', value: 'x'.repeat(4096) },
    });
    expect(codesOf(tooBig.body)).toEqual(['VALUE_TOO_LARGE']);
    expect(
      (await data(`mutation { deleteCollection(input: { space: "default", name: "tmp" }) { deleted } }`))
        .deleteCollection,
    ).toEqual({ deleted: true });
    expect((await data(`{ collection(space: "default", name: "tmp") { name } }`)).collection).toBeNull();
  });

  it('commits and branches versions, and reads and writes at a version', async () => {
    const created = await data(
      `mutation { createCollection(input: { space: "default", name: "docs", versioned: true }) { rootVersion versioned } }`,
    );
    const root = created.createCollection.rootVersion as string;
    await data(put, { input: { space: 'default', collection: 'docs', key: 'a', value: 'at root' } });
    const committed = await data(
      `mutation($v: String!) { commitVersion(input: { space: "default", collection: "docs", version: $v, note: "first" }) { uuid committed note } }`,
      { v: root.slice(0, 8) },
    );
    expect(committed.commitVersion).toEqual({ uuid: root, committed: true, note: 'first' });
    const locked = await gql(put, {
      input: { space: 'default', collection: 'docs', key: 'a', value: 'late', version: root },
    });
    expect(codesOf(locked.body)).toEqual(['VERSION_LOCKED']);

    const child = await data(
      `mutation($v: String!) { branchVersion(input: { space: "default", collection: "docs", version: $v, branch: "exp" }) { uuid branch parents committed } }`,
      { v: root },
    );
    expect(child.branchVersion).toMatchObject({ branch: 'exp', parents: [root], committed: false });
    const uuid = child.branchVersion.uuid as string;
    await data(put, { input: { space: 'default', collection: 'docs', key: 'a', value: 'on exp', version: ':exp' } });
    const read = await data(
      `query($v: String!) { collection(space: "default", name: "docs") {
        atRoot: record(key: "a") { value }
        onBranch: record(key: "a", version: $v) { value }
        byBranch: records(version: ":exp") { nodes { key value } }
        byPrefix: count(version: "${uuid.slice(0, 10)}")
        versions { uuid children }
        exp: version(spec: ":exp") { uuid }
        none: version(spec: "ffffffff") { uuid }
      } }`,
      { v: uuid },
    );
    expect(read.collection.atRoot.value).toBe('at root');
    expect(read.collection.onBranch.value).toBe('on exp');
    expect(read.collection.byBranch.nodes).toEqual([{ key: 'a', value: 'on exp' }]);
    expect(read.collection.byPrefix).toBe(1);
    const unknown = await gql(
      `{ collection(space: "default", name: "docs") { record(key: "a", version: ":nothing") { value } } }`,
    );
    expect(codesOf(unknown.body)).toEqual(['VERSION_NOT_FOUND']);
    expect(read.collection.versions).toEqual([
      { uuid: root, children: [uuid] },
      { uuid, children: [] },
    ]);
    expect(read.collection.exp.uuid).toBe(uuid);
    expect(read.collection.none).toBeNull();
  });
});

describe('errors and limits', () => {
  it('answers bad input with the GraphQL code of its domain code', async () => {
    const put = `mutation($input: PutRecordInput!) { putRecord(input: $input) { created } }`;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ space: 'default', collection: 'notes', key: 'k', value: 'a', json: 1 }, 'BAD_USER_INPUT'],
      [{ space: 'default', collection: 'notes', key: 'k' }, 'BAD_USER_INPUT'],
      [{ space: 'default', collection: 'notes', key: 'k', valueBase64: '!!' }, 'BAD_USER_INPUT'],
      [
        { space: 'default', collection: 'notes', key: 'k', value: 'a', createOnly: true, expectedRevision: 3 },
        'BAD_USER_INPUT',
      ],
      [{ space: 'default', collection: 'notes', key: '', value: 'a' }, 'INVALID_KEY'],
      [{ space: 'default', collection: 'nope', key: 'k', value: 'a' }, 'COLLECTION_NOT_FOUND'],
      [{ space: 'default', collection: 'notes', key: 'k', value: 'a', expectedRevision: 'x1' }, 'BAD_USER_INPUT'],
    ];
    for (const [input, code] of cases) {
      const reply = await gql(put, { input });
      expect([input, codesOf(reply.body)]).toEqual([input, [code]]);
    }
    const time = await gql(
      `{ collection(space: "default", name: "notes") { count(filter: { updatedAfter: "yesterday" }) } }`,
    );
    expect(codesOf(time.body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const timeVariable = await gql(
      `query($t: DateTime) { collection(space: "default", name: "notes") { count(filter: { updatedAfter: $t }) } }`,
      { t: 'yesterday' },
    );
    expect(codesOf(timeVariable.body)).toEqual(['BAD_USER_INPUT']);
    const page = await gql(`{ collection(space: "default", name: "notes") { records(first: 201) { nodes { key } } } }`);
    expect(codesOf(page.body)).toEqual(['BAD_USER_INPUT']);
    expect(page.body.errors?.[0]?.message).toBe('first must be from 0 to 200');
    const cursor = await gql(
      `{ collection(space: "default", name: "notes") { records(after: "garbage") { nodes { key } } } }`,
    );
    expect(codesOf(cursor.body)).toEqual(['INVALID_CURSOR']);
    const pattern = await gql(
      `{ collection(space: "default", name: "notes") { keys(filter: { pattern: "${'*a'.repeat(200)}" }) { nodes { key } } } }`,
    );
    expect(codesOf(pattern.body)).toEqual(['INVALID_PATTERN']);
  });

  it('refuses unauthenticated calls and malformed requests in GraphQL shape', async () => {
    const anonymous = await gql(`{ me { account } }`, {}, null);
    expect(codesOf(anonymous.body)).toEqual(['UNAUTHENTICATED']);
    expect(anonymous.body.data).toBeNull();
    const forged = await gql(`{ me { account } }`, {}, 'Bearer rst_not-a-token');
    expect(codesOf(forged.body)).toEqual(['UNAUTHENTICATED']);
    const syntax = await gql(`{ me { account }`);
    expect(syntax.status).toBe(400);
    expect(codesOf(syntax.body)).toEqual(['GRAPHQL_PARSE_FAILED']);
    const unknown = await gql(`{ me { password } }`);
    expect(codesOf(unknown.body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const json = await request(app)
      .post('/graphql')
      .set('authorization', admin)
      .set('content-type', 'application/json')
      .send('{"query":');
    expect(json.status).toBe(400);
    expect(codesOf(json.body as GraphQLReply)).toEqual(['BAD_REQUEST']);
    const huge = await request(app)
      .post('/graphql')
      .set('authorization', admin)
      .set('content-type', 'application/json')
      .send(JSON.stringify({ query: '{ me { account } }', variables: { pad: 'x'.repeat(1024 * 1024) } }));
    expect(huge.status).toBe(413);
    expect(codesOf(huge.body as GraphQLReply)).toEqual(['BAD_REQUEST']);
    const form = await request(app).post('/graphql').set('authorization', admin).type('form').send('query=%7B%7D');
    expect(form.status).toBe(400);
  });

  it('refuses documents nested too deep and operations that cost too much, before running them', async () => {
    calls.clear();
    const deep = await gql(
      `{ collection(space: "default", name: "notes") { records { edges { node { collection { records { nodes { collection { name } } } } } } } } }`,
    );
    expect(codesOf(deep.body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(deep.body.errors?.[0]?.message).toBe('the operation is nested 9 levels deep; the limit is 8');
    const costly = await gql(
      `{ collection(space: "default", name: "notes") { records(first: 200) { nodes { collection { records(first: 200) { nodes { key } } } } } } }`,
    );
    expect(codesOf(costly.body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(costly.body.errors?.[0]?.message).toMatch(/^the operation's estimated cost is \d+; the limit is 5000$/);
    expect(costly.status).toBe(400);
    const fields = 'nodes { key value json valueBase64 contentType size revision created updated }';
    const byVariable = await gql(
      `query($n: Int) { collection(space: "default", name: "notes") { a: records(first: $n) { ${fields} } b: records(first: $n) { ${fields} } c: records(first: $n) { ${fields} } } }`,
      { n: 200 },
    );
    expect(codesOf(byVariable.body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(calls.size).toBe(0);
  });

  it('supports automatic persisted queries', async () => {
    await data(
      `mutation { putRecord(input: { space: "default", collection: "notes", key: "apq", json: { n: 1 } }) { created } }`,
    );
    const query = `{ record(space: "default", collection: "notes", key: "apq") { json } }`;
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const persisted = { persistedQuery: { version: 1, sha256Hash } };
    const post = (body: object) =>
      request(app).post('/graphql').set('authorization', admin).set('content-type', 'application/json').send(body);
    const unknown = await post({ extensions: persisted });
    expect(codesOf(unknown.body as GraphQLReply)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    const registered = await post({ query, extensions: persisted });
    expect((registered.body as GraphQLReply).data).toEqual({ record: { json: { n: 1 } } });
    const byHash = await post({ extensions: persisted });
    expect((byHash.body as GraphQLReply).data).toEqual({ record: { json: { n: 1 } } });
    const viaGet = await request(app)
      .get('/graphql')
      .query({ extensions: JSON.stringify(persisted) })
      .set('authorization', admin)
      .set('apollo-require-preflight', 'true');
    expect((viaGet.body as GraphQLReply).data).toEqual({ record: { json: { n: 1 } } });
    const mismatch = await post({ query: '{ me { account } }', extensions: persisted });
    expect(mismatch.status).toBe(400);
    expect((mismatch.body as GraphQLReply).errors?.map((e) => e.message)).toEqual([
      'provided sha does not match query',
    ]);
  });
});

describe('authentication', () => {
  it('takes the credentials every route takes: Basic, bearer tokens and sessions, read-only ones refused writes', async () => {
    await accountWithToken(app, 'dora');
    const basic = `Basic ${Buffer.from('dora:dora-password').toString('base64')}`;
    expect((await data(`{ me { account via } }`, {}, basic)).me).toEqual({ account: 'dora', via: 'password' });
    const login = await request(app).post('/v1/auth/login?readOnly=true').set('authorization', basic).expect(200);
    const session = (login.body as { session: string }).session;
    const viaSession = await request(app)
      .post('/graphql')
      .set('x-session-token', session)
      .send({ query: `{ me { account via readOnly } }` });
    expect((viaSession.body as GraphQLReply).data).toEqual({ me: { account: 'dora', via: 'session', readOnly: true } });
    const write = await request(app)
      .post('/graphql')
      .set('x-session-token', session)
      .send({ query: `mutation { createCollection(input: { space: "dora", name: "c" }) { name } }` });
    expect(codesOf(write.body as GraphQLReply)).toEqual(['FORBIDDEN']);
    const malformed = await request(app)
      .post('/graphql')
      .set('x-session-token', 'nope')
      .send({ query: '{ me { account } }' });
    expect(codesOf(malformed.body as GraphQLReply)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('isolation', () => {
  it("keeps alice's collection out of bob's reach through every query and mutation", async () => {
    const alice = await accountWithToken(app, 'alice');
    const bob = await accountWithToken(app, 'bob');
    await data(`mutation { createCollection(input: { space: "alice", name: "secret" }) { name } }`, {}, alice);
    await data(
      `mutation { putRecord(input: { space: "alice", collection: "secret", key: "k", value: "alice-only" }) { created } }`,
      {},
      alice,
    );
    const at = 'space: "alice", collection: "secret"';
    const attempts: Array<[string, string]> = [
      ['record', `{ record(${at}, key: "k") { value } }`],
      ['collection', `{ collection(space: "alice", name: "secret") { name } }`],
      ['space', `{ space(name: "alice") { name } }`],
      ['put', `mutation { putRecord(input: { ${at}, key: "k", value: "bob" }) { created } }`],
      ['put many', `mutation { putRecords(input: { ${at}, records: [{ key: "k", value: "bob" }] }) { createdCount } }`],
      ['delete', `mutation { deleteRecord(input: { ${at}, key: "k" }) { deleted } }`],
      ['delete many', `mutation { deleteRecords(input: { ${at}, filter: { prefix: "" } }) { deleted } }`],
      ['create collection', `mutation { createCollection(input: { space: "alice", name: "x" }) { name } }`],
      [
        'update collection',
        `mutation { updateCollection(input: { space: "alice", name: "secret", tags: { a: "b" } }) { name } }`,
      ],
      ['delete collection', `mutation { deleteCollection(input: { space: "alice", name: "secret" }) { deleted } }`],
      ['commit', `mutation { commitVersion(input: { ${at}, version: ":master" }) { uuid } }`],
      ['branch', `mutation { branchVersion(input: { ${at}, version: ":master" }) { uuid } }`],
    ];
    for (const [name, query] of attempts) {
      const { body } = await gql(query, {}, bob);
      const leaked =
        JSON.stringify(body.data ?? {}).includes('alice-only') || JSON.stringify(body.data ?? {}).includes('secret');
      const refused = (body.errors ?? []).length > 0 || Object.values(body.data ?? {}).every((v) => v === null);
      expect([name, refused, leaked]).toEqual([name, true, false]);
      for (const code of codesOf(body))
        expect([name, code]).toEqual([
          name,
          expect.stringMatching(/^(SPACE_NOT_FOUND|COLLECTION_NOT_FOUND|FORBIDDEN)$/),
        ]);
    }
    const spaces = await data(`{ spaces { name } }`, {}, bob);
    expect(spaces.spaces.map((s: { name: string }) => s.name)).not.toContain('alice');
    const still = await data(
      `{ record(${at}, key: "k") { value } collection(space: "alice", name: "secret") { count } }`,
      {},
      alice,
    );
    expect(still).toEqual({ record: { value: 'alice-only' }, collection: { count: 1 } });
  });
});

describe('subscriptions', () => {
  jest.setTimeout(20_000);
  const clients: Client[] = [];
  const url = () => `${http.url.replace(/^http/, 'ws')}/graphql`;
  const connect = (connectionParams?: Record<string, unknown>) => {
    const client = createClient({
      url: url(),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      ...(connectionParams && { connectionParams }),
    });
    clients.push(client);
    return client;
  };

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
  });

  /** Subscribes and collects what arrives, until `stop`. */
  function collect(client: Client, query: string) {
    const received: GraphQLReply[] = [];
    const state = { error: undefined as unknown, complete: false };
    const stop = client.subscribe(
      { query },
      {
        next: (value) => received.push(value as GraphQLReply),
        error: (error) => {
          state.error = error;
        },
        complete: () => {
          state.complete = true;
        },
      },
    );
    return { received, state, stop };
  }

  const v1Put = (key: string, value: string, auth = admin) =>
    request(app)
      .put(`/v1/spaces/default/collections/notes/records/${key}`)
      .set('authorization', auth)
      .type('text/plain')
      .send(value);

  it('delivers changes written through REST, filtered by prefix, until the client stops', async () => {
    const client = connect({ Authorization: admin });
    const sub = collect(
      client,
      `subscription { changes(space: "default", collection: "notes", prefix: "live/") { op key value revision at version } }`,
    );
    // The subscription is live once a write made after it arrives; earlier ones may be missed.
    await expectEventually(async () => {
      await v1Put('live/probe', 'probe').expect((res) => expect(res.status).toBeLessThan(300));
      expect(sub.received.length).toBeGreaterThan(0);
    });
    sub.received.length = 0;
    await v1Put('elsewhere', 'not for us').expect(201);
    const written = await v1Put('live/1', 'hello').expect(201);
    await request(app)
      .delete('/v1/spaces/default/collections/notes/records/live/1')
      .set('authorization', admin)
      .expect(204);
    const live = () =>
      sub.received.map((r) => r.data?.changes as Record<string, unknown>).filter((c) => c.key !== 'live/probe');
    await expectEventually(() => expect(live()).toHaveLength(2));
    const [put, del] = live();
    expect(put).toMatchObject({
      op: 'PUT',
      key: 'live/1',
      value: 'hello',
      revision: (written.body as { revision: number }).revision,
    });
    expect(del).toMatchObject({ op: 'DELETE', key: 'live/1', value: null });
    sub.stop();
    await v1Put('live/2', 'after stop').expect(201);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(live()).toHaveLength(2);
  });

  it('replays from a revision, then goes on live, and refuses a revision compacted away', async () => {
    const first = await v1Put('resume/1', 'one').expect(201);
    const since = (first.body as { revision: number }).revision;
    await v1Put('resume/2', 'two').expect(201);
    await v1Put('resume/3', 'three').expect(201);
    const client = connect({ Authorization: admin });
    const sub = collect(
      client,
      `subscription { changes(space: "default", collection: "notes", prefix: "resume/", since: ${since}) { key revision } }`,
    );
    const keys = () => sub.received.map((r) => (r.data?.changes as { key: string }).key);
    await expectEventually(() => expect(keys()).toEqual(['resume/2', 'resume/3']));
    await v1Put('resume/4', 'four').expect(201);
    await expectEventually(() => expect(keys()).toEqual(['resume/2', 'resume/3', 'resume/4']));
    sub.stop();

    await api.runtime.db.query('DELETE FROM change_events WHERE revision <= $1', [since]);
    const expired = collect(
      client,
      `subscription { changes(space: "default", collection: "notes", since: ${since}) { key } }`,
    );
    await expectEventually(() => expect(expired.state.complete).toBe(true));
    const [error] = expired.received[0]?.errors ?? [];
    expect(error?.extensions).toMatchObject({ code: 'REVISION_EXPIRED' });
    expect((error?.extensions as { oldestRevision?: number }).oldestRevision).toBeGreaterThan(since);
  });

  it('shows a scoped token only its keys, and refuses subscriptions it may not read', async () => {
    const scoped = await request(app)
      .post('/v1/tokens')
      .set('authorization', admin)
      .send({ scopes: [{ space: 'default', collection: 'notes', keyPrefix: 'pub/' }] })
      .expect(201);
    const token = `Bearer ${(scoped.body as { secret: string }).secret}`;
    const client = connect({ Authorization: token });
    const sub = collect(client, `subscription { changes(space: "default", collection: "notes") { key } }`);
    await expectEventually(async () => {
      await v1Put('pub/probe', 'probe').expect((res) => expect(res.status).toBeLessThan(300));
      expect(sub.received.length).toBeGreaterThan(0);
    });
    sub.received.length = 0;
    await v1Put('priv/x', 'hidden').expect(201);
    await v1Put('pub/x', 'shown').expect(201);
    await expectEventually(() =>
      expect(
        sub.received.map((r) => (r.data?.changes as { key: string }).key).filter((key) => key !== 'pub/probe'),
      ).toEqual(['pub/x']),
    );

    const other = collect(client, `subscription { changes(space: "default", collection: "other") { key } }`);
    await expectEventually(() => expect(other.state.complete || other.state.error !== undefined).toBe(true));
    expect(codesOf(other.received[0] ?? {})).toEqual(['FORBIDDEN']);

    const stranger = collect(
      connect({ Authorization: await accountWithToken(app, 'erin') }),
      `subscription { changes(space: "default", collection: "notes") { key value } }`,
    );
    await expectEventually(() => expect(stranger.state.complete).toBe(true));
    expect(codesOf(stranger.received[0] ?? {})).toEqual(['SPACE_NOT_FOUND']);
    expect(stranger.received).toHaveLength(1);
  });

  it('refuses sockets without credentials, and invalid subscriptions', async () => {
    const anonymous = connect();
    const refused = collect(anonymous, `subscription { changes(space: "default", collection: "notes") { key } }`);
    await expectEventually(() => expect(refused.state.error).toBeDefined());
    expect((refused.state.error as { code?: number }).code).toBe(4403);
    for (const Authorization of ['Bearer rst_wrong-token-0123456789', 'Bearer', 'Digest x']) {
      const wrong = collect(
        connect({ Authorization }),
        `subscription { changes(space: "default", collection: "notes") { key } }`,
      );
      await expectEventually(() => expect(wrong.state.error).toBeDefined());
      expect([Authorization, (wrong.state.error as { code?: number }).code]).toEqual([Authorization, 4403]);
    }

    const client = connect({ Authorization: admin });
    const missing = collect(client, `subscription { changes(space: "default", collection: "absent") { key } }`);
    const invalid = collect(client, `subscription { changes(space: "default") { key } }`);
    await expectEventually(() => {
      expect(missing.state.complete).toBe(true);
      expect(invalid.state.error).toBeDefined();
    });
    expect(codesOf(missing.received[0] ?? {})).toEqual(['COLLECTION_NOT_FOUND']);
    expect((invalid.state.error as Array<{ message: string }>)[0]?.message).toMatch(/argument "collection"/);
  });
});
