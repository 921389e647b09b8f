import request from 'supertest';
import type { RequestListener } from 'node:http';
import { createApp } from '../../apps/gateway/src';
import { asAdmin, silentLogger, startTestApi, type TestApi } from '../support/api';

/** The /v1 API through createApp, over a real record service (direct binding, Postgres, Redis). */

let api: TestApi;
let app: RequestListener;
const base = '/v1/spaces/default/collections';

beforeAll(async () => {
  api = await startTestApi();
  app = asAdmin(createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024 }));
  await request(app).post(base).send({ name: 'docs', maxValueBytes: 4096 }).expect(201);
});

afterAll(() => api.close());

const errorOf = (res: request.Response) => (res.body as { error: { code: string; message: string } }).error;

describe('collections', () => {
  it('creates with 201 and Location, and refuses duplicates and bad names', async () => {
    const res = await request(app)
      .post(base)
      .send({ name: 'fresh', tags: { a: 'b' } })
      .expect(201);
    expect(res.headers.location).toBe('/v1/spaces/default/collections/fresh');
    expect(res.body).toMatchObject({ space: 'default', name: 'fresh', tags: { a: 'b' }, maxValueBytes: 16777216 });
    expect(errorOf(await request(app).post(base).send({ name: 'fresh' }).expect(409)).code).toBe('COLLECTION_EXISTS');
    expect(errorOf(await request(app).post(base).send({ name: 'a/b' }).expect(400)).code).toBe('INVALID_NAME');
    expect(errorOf(await request(app).post(base).send({ name: 'x', color: 1 }).expect(400)).message).toMatch(/color/);
    expect(errorOf(await request(app).post(base).type('text/plain').send('{"name":"y"}').expect(415)).code).toBe(
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(errorOf(await request(app).post(base).type('json').send('{"name":').expect(400)).message).toMatch(/JSON/);
    expect(errorOf(await request(app).post('/v1/spaces/ghost/collections').send({ name: 'x' }).expect(404)).code).toBe(
      'SPACE_NOT_FOUND',
    );
  });

  it('lists, reads, updates and deletes', async () => {
    const list = await request(app).get(`${base}?limit=1`).expect(200);
    expect(list.body.collections).toHaveLength(1);
    expect(typeof list.body.cursor).toBe('string');
    await request(app)
      .patch(`${base}/fresh`)
      .send({ tags: { a: '' }, maxValueBytes: 10 })
      .expect(200);
    const got = await request(app).get(`${base}/fresh`).expect(200);
    expect(got.body).toMatchObject({ tags: {}, maxValueBytes: 10 });
    await request(app).delete(`${base}/fresh`).expect(204);
    expect(errorOf(await request(app).get(`${base}/fresh`).expect(404)).code).toBe('COLLECTION_NOT_FOUND');
  });
});

describe('records', () => {
  const record = (key: string) => `${base}/docs/records/${key}`;

  it('round-trips bytes and content type, with ETag and conditional requests', async () => {
    const put = await request(app).put(record('a/b/c.txt')).type('text/plain').send('hello').expect(201);
    expect(put.headers.location).toBe('/v1/spaces/default/collections/docs/records/a/b/c.txt');
    const etag = put.headers.etag as string;
    expect(etag).toMatch(/^"\d+"$/);
    expect(put.body).toMatchObject({ key: 'a/b/c.txt', size: 5, contentType: 'text/plain' });

    const get = await request(app).get(record('a/b/c.txt')).expect(200);
    expect(get.text).toBe('hello');
    expect(get.headers['content-type']).toBe('text/plain');
    expect(get.headers.etag).toBe(etag);
    await request(app).get(record('a/b/c.txt')).set('if-none-match', etag).expect(304);
    const head = await request(app).head(record('a/b/c.txt')).expect(200);
    expect(head.headers['content-length']).toBe('5');

    expect(errorOf(await request(app).put(record('a/b/c.txt')).set('if-match', '"1"').send('x').expect(412)).code).toBe(
      'REVISION_MISMATCH',
    );
    const cas = await request(app)
      .put(record('a/b/c.txt'))
      .set('if-match', etag)
      .type('text/plain')
      .send('bye')
      .expect(200);
    expect(cas.headers.etag).not.toBe(etag);
    expect(
      errorOf(await request(app).put(record('a/b/c.txt')).set('if-none-match', '*').send('x').expect(412)).code,
    ).toBe('RECORD_EXISTS');
    await request(app).put(record('new')).set('if-none-match', '*').send('x').expect(201);
    expect(errorOf(await request(app).put(record('ghost')).set('if-match', '*').send('x').expect(412)).code).toBe(
      'REVISION_MISMATCH',
    );

    await request(app).delete(record('a/b/c.txt')).set('if-match', etag).expect(412);
    await request(app)
      .delete(record('a/b/c.txt'))
      .set('if-match', cas.headers.etag as string)
      .expect(204);
    expect(errorOf(await request(app).get(record('a/b/c.txt')).expect(404)).code).toBe('KEY_NOT_FOUND');
    expect(errorOf(await request(app).delete(record('a/b/c.txt')).expect(404)).code).toBe('KEY_NOT_FOUND');
  });

  it('stores binary values verbatim and keys with encoded characters', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254]);
    await request(app).put(record('bin%2Fary%20key')).type('application/octet-stream').send(bytes).expect(201);
    const got = await request(app)
      .get(record('bin/ary key'))
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(got.body).toEqual(bytes);
  });

  it('answers bad input in the /v1 error shape', async () => {
    expect(errorOf(await request(app).put(record('big')).send(Buffer.alloc(5000)).expect(413)).code).toBe(
      'VALUE_TOO_LARGE',
    );
    expect(
      errorOf(await request(app).put(record('ct')).set('content-type', 'not a type').send('x').expect(400)).code,
    ).toBe('INVALID_CONTENT_TYPE');
    expect(
      errorOf(
        await request(app)
          .put(record(encodeURIComponent('k'.repeat(1025))))
          .send('x')
          .expect(400),
      ).code,
    ).toBe('INVALID_KEY');
    // An empty key has no address: `records/` is the listing, and nothing is written there.
    expect(errorOf(await request(app).put(`${base}/docs/records/`).send('x').expect(404)).code).toBe('ROUTE_NOT_FOUND');
    expect(errorOf(await request(app).put(record('x')).set('if-match', 'nope').send('x').expect(400)).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(
      errorOf(
        await request(app)
          .put(record('huge'))
          .send(Buffer.alloc(2 * 1024 * 1024))
          .expect(413),
      ).code,
    ).toBe('VALUE_TOO_LARGE');
    expect(errorOf(await request(app).get('/nowhere').expect(404)).code).toBe('ROUTE_NOT_FOUND');
    for (const key of ['big', 'ct', 'huge']) await request(app).get(record(key)).expect(404);
  });
});

describe('batches, listings and counts', () => {
  const list = `${base}/listed`;

  beforeAll(async () => {
    await request(app).post(base).send({ name: 'listed' }).expect(201);
    const records = Array.from({ length: 25 }, (_, i) => ({ key: `item/${String(i).padStart(2, '0')}`, value: { i } }));
    const res = await request(app).post(`${list}/batch`).send({ records }).expect(200);
    expect(res.body.created).toBe(25);
    expect(res.body.records).toHaveLength(25);
  });

  it('writes batches all or nothing', async () => {
    const bad = await request(app)
      .post(`${list}/batch`)
      .send({
        records: [
          { key: 'late', value: 'x' },
          { key: 'item/00', value: 'y', ifRevision: 1 },
        ],
      })
      .expect(412);
    expect(errorOf(bad).code).toBe('REVISION_MISMATCH');
    await request(app).get(`${list}/records/late`).expect(404);
    expect(
      errorOf(
        await request(app)
          .post(`${list}/batch`)
          .send({
            records: [
              { key: 'd', value: 'x' },
              { key: 'd', value: 'y' },
            ],
          })
          .expect(422),
      ).code,
    ).toBe('DUPLICATE_KEY');
    expect(
      errorOf(
        await request(app)
          .post(`${list}/batch`)
          .send({ records: [{ key: 'b', value: '@@', encoding: 'base64' }] })
          .expect(400),
      ).message,
    ).toMatch(/Base64/);
    expect(errorOf(await request(app).post(`${list}/batch`).send([]).expect(400)).code).toBe('INVALID_ARGUMENT');
  });

  it('streams JSON pages with a cursor, and NDJSON with a final line', async () => {
    const first = await request(app).get(`${list}/records?prefix=item/&limit=10`).expect(200);
    expect(first.headers['content-type']).toMatch(/application\/json/);
    expect(first.body.records).toHaveLength(10);
    expect(first.body.records[0]).toMatchObject({ key: 'item/00', value: '{"i":0}', encoding: 'utf8' });
    const rest = await request(app)
      .get(`${list}/records?prefix=item/&cursor=${first.body.cursor}&limit=100`)
      .expect(200);
    expect(rest.body.records).toHaveLength(15);
    expect(rest.body.cursor).toBeNull();

    const nd = await request(app)
      .get(`${list}/records?pattern=item/1*&keysOnly=true`)
      .set('accept', 'application/x-ndjson');
    const lines = nd.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, -1).map((l) => l.key)).toEqual(Array.from({ length: 10 }, (_, i) => `item/1${i}`));
    expect(lines[0]).not.toHaveProperty('value');
    expect(lines.at(-1)).toEqual({ done: true, cursor: null });
  });

  it('validates listing parameters strictly', async () => {
    expect(errorOf(await request(app).get(`${list}/records?limit=-1`).expect(400)).message).toMatch(/limit/);
    expect(errorOf(await request(app).get(`${list}/records?createdAfter=2024-01-01`).expect(400)).message).toMatch(
      /RFC 3339/,
    );
    expect(errorOf(await request(app).get(`${list}/records?cursor=zzz`).expect(400)).code).toBe('INVALID_CURSOR');
    expect(errorOf(await request(app).get(`${list}/records?offset=3`).expect(400)).message).toMatch(/offset/);
    expect(errorOf(await request(app).get(`${base}/missing/records`).expect(404)).code).toBe('COLLECTION_NOT_FOUND');
  });

  it('counts, reads many and deletes matching', async () => {
    expect((await request(app).get(`${list}/count?prefix=item/1`).expect(200)).body).toEqual({ count: 10 });
    const many = await request(app)
      .post(`${list}/batch-get`)
      .send({ keys: ['item/01', 'nope'] })
      .expect(200);
    expect(many.body.records[0]).toMatchObject({ key: 'item/01' });
    expect(many.body.records[1]).toBeNull();
    const del = await request(app).post(`${list}/delete-matching`).send({ pattern: 'item/2?', limit: 3 }).expect(200);
    expect(del.body).toEqual({ deleted: 3, more: true });
    const rest = await request(app).post(`${list}/delete-matching`).send({ pattern: 'item/2?' }).expect(200);
    expect(rest.body).toEqual({ deleted: 2, more: false });
    expect((await request(app).get(`${list}/count`).expect(200)).body).toEqual({ count: 20 });
  });
});

describe('service endpoints', () => {
  it('serves health, readiness and an OpenAPI 3.1 document of every route', async () => {
    await request(app).get('/healthz').expect(200);
    await request(app).get('/readyz').expect(200);
    const doc = (await request(app).get('/v1/openapi.json').expect(200)).body as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/spaces/{space}/collections',
        '/v1/spaces/{space}/collections/{collection}',
        '/v1/spaces/{space}/collections/{collection}/records',
        '/v1/spaces/{space}/collections/{collection}/records/{key}',
        '/v1/spaces/{space}/collections/{collection}/batch',
      ]),
    );
    expect(Object.keys(doc.paths['/v1/spaces/{space}/collections/{collection}/records/{key}'] ?? {}).sort()).toEqual([
      'delete',
      'get',
      'head',
      'put',
    ]);
  });
});

describe('malformed paths', () => {
  it('answers a bad percent-encoding with 400, on the read path and through Express', async () => {
    expect(errorOf(await request(app).get(`${base}/docs/records/%E0%A4%A`).expect(400)).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(await request(app).put(`${base}/docs/records/%E0%A4%A`).send('x').expect(400)).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(errorOf(await request(app).get(`${base}/%E0%A4%A`).expect(400)).code).toBe('INVALID_ARGUMENT');
  });
});

describe('coalesced single-record requests', () => {
  const record = (key: string) => `${base}/docs/records/${key}`;

  it('answers each of many concurrent writes alone, even when one of their batch is refused', async () => {
    const writes = Array.from({ length: 20 }, (_, i) =>
      request(app)
        .put(record(`many/${i}`))
        .type('text/plain')
        .send(i === 7 ? 'x'.repeat(5000) : `v${i}`),
    );
    const results = await Promise.all(writes);
    results.forEach((res, i) => expect(res.status).toBe(i === 7 ? 413 : 201));
    const reads = await Promise.all(Array.from({ length: 20 }, (_, i) => request(app).get(record(`many/${i}`))));
    reads.forEach((res, i) => {
      expect(res.status).toBe(i === 7 ? 404 : 200);
      if (i !== 7) expect(res.text).toBe(`v${i}`);
    });
  });

  it('keeps two concurrent writes of one key apart, and reads missing keys as 404 beside found ones', async () => {
    const [a, b] = await Promise.all([
      request(app).put(record('twice')).type('text/plain').send('first'),
      request(app).put(record('twice')).type('text/plain').send('second'),
    ]);
    expect([a?.status, b?.status].sort()).toEqual([200, 201]);
    const [found, missing, bad] = await Promise.all([
      request(app).get(record('twice')),
      request(app).get(record('never-written')),
      request(app).get(record(encodeURIComponent('k'.repeat(1025)))),
    ]);
    expect(['first', 'second']).toContain(found?.text);
    expect(missing?.status).toBe(404);
    expect(bad?.status).toBe(400);
  });

  it('undoes a compressed body and refuses an unknown encoding', async () => {
    const { gzipSync } = await import('node:zlib');
    await request(app)
      .put(record('zipped'))
      .set('content-encoding', 'gzip')
      .type('text/plain')
      .send(gzipSync(Buffer.from('unzipped text')))
      .expect(201);
    expect((await request(app).get(record('zipped')).expect(200)).text).toBe('unzipped text');
    const res = await request(app).put(record('weird')).set('content-encoding', 'lzma').send('x').expect(415);
    expect(errorOf(res).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });
});
