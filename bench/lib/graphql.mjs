// The GraphQL workloads: POST /graphql of one fixed query, either one 1 KiB record or a
// 100-record connection page. Each run first sends its query once and checks the answer (data,
// no `errors`, the values seeded), so that a broken query cannot pass for a fast one.
import { GRAPHQL_COLLECTION, GRAPHQL_HOT_KEY, GRAPHQL_PAGE, HOT_COLLECTION, SPACE, VALUE_BYTES } from './config.mjs';
import { httpRequest } from './http.mjs';
import { valueOf } from './value.mjs';

export const GRAPHQL_PATH = '/graphql';
export const GRAPHQL_HEADERS = { 'content-type': 'application/json' };

const VALUE = valueOf(VALUE_BYTES);

/** The request bodies, as wrk sends them (bench/lua/post.lua). */
export const GRAPHQL_BODIES = {
  'graphql-get': JSON.stringify({
    query: 'query($s:String!,$c:String!,$k:String!){record(space:$s,collection:$c,key:$k){key value revision}}',
    variables: { s: SPACE, c: HOT_COLLECTION, k: GRAPHQL_HOT_KEY },
  }),
  'graphql-page': JSON.stringify({
    query:
      `query($s:String!,$n:String!){collection(space:$s,name:$n){records(first:${GRAPHQL_PAGE})` +
      '{edges{cursor node{key value revision}} pageInfo{hasNextPage endCursor}}}}',
    variables: { s: SPACE, n: GRAPHQL_COLLECTION },
  }),
};

function checkRecord(node, key, where) {
  if (node === null || typeof node !== 'object') throw new Error(`${where}: no record`);
  if (node.key !== key) throw new Error(`${where}: key ${JSON.stringify(node.key)}, expected ${JSON.stringify(key)}`);
  if (node.value !== VALUE)
    throw new Error(
      `${where}: value of ${typeof node.value === 'string' ? `${node.value.length} characters` : String(node.value)}, expected the ${VALUE_BYTES}-byte bench value`,
    );
  if (!(Number(node.revision) > 0)) throw new Error(`${where}: revision ${JSON.stringify(node.revision)}`);
}

/**
 * Sends the workload's query once and checks the answer: HTTP 200, `data` as seeded, no
 * `errors`. Resolves with the answer's body size in bytes (the load run's responses must not
 * be smaller: GraphQL reports errors with a 200, which wrk would count as successes).
 */
export async function checkGraphql(base, workload) {
  const res = await httpRequest('POST', `${base}${GRAPHQL_PATH}`, {
    body: GRAPHQL_BODIES[workload],
    headers: GRAPHQL_HEADERS,
  });
  const text = res.body.toString('utf8');
  if (res.status !== 200)
    throw new Error(`${workload}: POST ${GRAPHQL_PATH} answered ${res.status}: ${text.slice(0, 300)}`);
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new Error(`${workload}: the answer is not JSON: ${text.slice(0, 300)}`);
  }
  if (answer.errors !== undefined)
    throw new Error(`${workload}: the answer carries errors: ${JSON.stringify(answer.errors).slice(0, 300)}`);
  if (workload === 'graphql-get') {
    checkRecord(answer.data?.record, GRAPHQL_HOT_KEY, workload);
  } else {
    const records = answer.data?.collection?.records;
    const edges = records?.edges;
    if (!Array.isArray(edges) || edges.length !== GRAPHQL_PAGE)
      throw new Error(`${workload}: ${Array.isArray(edges) ? edges.length : 'no'} edges, expected ${GRAPHQL_PAGE}`);
    edges.forEach((edge, i) => {
      if (typeof edge.cursor !== 'string' || edge.cursor === '')
        throw new Error(`${workload}: edge ${i} has no cursor`);
      checkRecord(edge.node, graphqlPageKey(i), `${workload}, edge ${i}`);
    });
    const { hasNextPage, endCursor } = records.pageInfo ?? {};
    if (hasNextPage !== true || endCursor !== edges.at(-1).cursor)
      throw new Error(`${workload}: pageInfo ${JSON.stringify(records.pageInfo)}`);
  }
  return res.body.length;
}

/** Key `i` of the page collection (fixed width: key order is numeric order). */
export const graphqlPageKey = (i) => `page/${String(i).padStart(4, '0')}`;
