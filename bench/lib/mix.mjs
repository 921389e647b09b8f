// The all-in-one run: one wrk run on the cluster's gateway mixing the workloads' requests, each
// request picked at random by weight (bench/lua/mix.lua), each kind with its own credentials.
import { AUTH_HEADERS, HOT_COLLECTION, SPACE, VALUE_BYTES } from './config.mjs';
import { GRAPHQL_BODIES, GRAPHQL_HEADERS, GRAPHQL_PATH } from './graphql.mjs';

const records = `/v1/spaces/${SPACE}/collections/${HOT_COLLECTION}/records`;

/**
 * The mix, in requests per 1000: half hot GETs, a tenth each of PUTs of new keys, GraphQL
 * one-record queries and the Kopano, Rivet and Prosody GETs, and one 1000-record list.
 */
export function mixEntries(dialects, putBase) {
  const headersOf = (headers) => Object.entries(headers).filter(([, value]) => value !== undefined);
  return [
    { name: 'hot-get', method: 'GET', weight: 499, path: `${records}/hot`, headers: AUTH_HEADERS },
    {
      name: 'put',
      method: 'PUT',
      weight: 100,
      path: putBase,
      headers: { ...AUTH_HEADERS, 'content-type': 'application/octet-stream' },
      body: String(VALUE_BYTES),
    },
    {
      name: 'graphql-get',
      method: 'POST',
      weight: 100,
      path: GRAPHQL_PATH,
      headers: { ...AUTH_HEADERS, ...GRAPHQL_HEADERS },
      body: GRAPHQL_BODIES['graphql-get'],
    },
    ...['kopano', 'rivet', 'prosody'].map((dialect) => ({
      name: `${dialect}-get`,
      method: 'GET',
      weight: 100,
      path: dialects[dialect].path,
      headers: dialects[dialect].headers,
    })),
    { name: 'list', method: 'GET', weight: 1, path: `${records}?prefix=list/&limit=1000`, headers: AUTH_HEADERS },
  ].map((entry) => ({ ...entry, headers: headersOf(entry.headers) }));
}

/** The entries as mix.lua's arguments. */
export function mixArgs(entries) {
  return entries.flatMap(({ method, weight, path, headers, body }) => [
    method,
    String(weight),
    path,
    String(headers.length),
    ...headers.map(([name, value]) => `${name}: ${value}`),
    body ?? '',
  ]);
}
