import { GraphQLError, getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { buildSchema } from './endpoint';
import { checkCost, depthLimit, estimateCost } from './limits';

const schema = buildSchema({ maxPage: 1000 });

/** The errors of validating `doc` against the real schema with GraphQL's rules and a depth limit. */
const errorsOf = (doc: string, maxDepth: number) =>
  validate(schema, parse(doc), [...specifiedRules, depthLimit(maxDepth)]);
const messagesOf = (doc: string, maxDepth: number) => errorsOf(doc, maxDepth).map((e) => e.message);

const cost = (doc: string, variables?: Record<string, unknown>, operationName?: string) =>
  estimateCost(schema, parse(doc), variables, operationName);

describe('depthLimit', () => {
  it('measures fragments spread many times in linear time', () => {
    const n = 24;
    const fragments = Array.from({ length: n }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
    const doc = parse(`{ ...F0 } ${fragments.join(' ')} fragment F${n} on Query { me { account } }`);
    const started = performance.now();
    expect(validate(schema, doc, [...specifiedRules, depthLimit(12)])).toEqual([]);
    // 2^24 spreads if each were measured again; measured once each, a few milliseconds.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  // me → 1, space → 1, space.collection → 2, …stats → 3, …stats.records → 4
  const depth4 = '{ space(name: "s") { collection(name: "c") { stats { records } } } }';

  it('accepts a document exactly at the limit', () => {
    expect(errorsOf(depth4, 4)).toEqual([]);
    expect(errorsOf('{ me { account } }', 2)).toEqual([]);
  });

  it('refuses a document one level over the limit, naming the depth and the limit', () => {
    const errors = errorsOf(depth4, 3);
    expect(errors).toHaveLength(1);
    const [error] = errors;
    expect(error).toBeInstanceOf(GraphQLError);
    expect(error?.message).toBe('the operation is nested 4 levels deep; the limit is 3');
    expect(error?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('names the operation when it has a name', () => {
    expect(messagesOf(`query Deep ${depth4}`, 3)).toEqual(['operation Deep is nested 4 levels deep; the limit is 3']);
  });

  it('counts the deepest branch, not the first or the widest', () => {
    const doc = `{
      me { account host admin readOnly via personalSpace }
      space(name: "s") { name kind collection(name: "c") { name stats { records bytes } } }
    }`;
    expect(errorsOf(doc, 4)).toEqual([]);
    expect(messagesOf(doc, 3)).toEqual(['the operation is nested 4 levels deep; the limit is 3']);
  });

  it('counts the fields of fragments where they are spread', () => {
    const doc = `
      query Q { space(name: "s") { ...SpaceParts } }
      fragment SpaceParts on Space { name collection(name: "c") { ...CollectionParts } }
      fragment CollectionParts on Collection { name stats { records } }`;
    expect(errorsOf(doc, 4)).toEqual([]);
    expect(messagesOf(doc, 3)).toEqual(['operation Q is nested 4 levels deep; the limit is 3']);
  });

  it('counts a fragment spread at the top of an operation', () => {
    const doc = `
      { ...Top }
      fragment Top on Query { space(name: "s") { collection(name: "c") { stats { records } } } }`;
    expect(errorsOf(doc, 4)).toEqual([]);
    expect(messagesOf(doc, 3)).toEqual(['the operation is nested 4 levels deep; the limit is 3']);
  });

  it('counts the fields of inline fragments without adding a level for the fragment itself', () => {
    const doc = `{
      space(name: "s") {
        ... on Space { collection(name: "c") { ... { stats { ... on CollectionStats { records } } } } }
      }
    }`;
    expect(errorsOf(doc, 4)).toEqual([]);
    expect(messagesOf(doc, 3)).toEqual(['the operation is nested 4 levels deep; the limit is 3']);
  });

  it('follows a fragment spread inside another fragment and inside an inline fragment', () => {
    const doc = `
      { space(name: "s") { ... on Space { ...A } } }
      fragment A on Space { ...B }
      fragment B on Space { collection(name: "c") { stats { records } } }`;
    expect(errorsOf(doc, 4)).toEqual([]);
    expect(messagesOf(doc, 3)).toEqual(['the operation is nested 4 levels deep; the limit is 3']);
  });

  it("lets GraphiQL's introspection query through a limit of 12", () => {
    const introspection = getIntrospectionQuery();
    expect(errorsOf(introspection, 12)).toEqual([]);
    // Even with the descriptions and the rest of the options GraphiQL may ask for.
    const full = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
    });
    expect(errorsOf(full, 12)).toEqual([]);
  });

  it('does not count introspection fields, wherever they are', () => {
    // Nine levels of __schema alone.
    const deepIntrospection =
      '{ __schema { types { fields { type { ofType { ofType { ofType { ofType { name } } } } } } } } }';
    expect(errorsOf(deepIntrospection, 1)).toEqual([]);
    expect(errorsOf('{ __type(name: "Collection") { fields { type { name } } } }', 1)).toEqual([]);
    // __typename beside ordinary fields adds nothing, and the ordinary fields still count.
    expect(errorsOf('{ __typename me { __typename account } }', 2)).toEqual([]);
    expect(messagesOf('{ __typename me { __typename account } }', 1)).toEqual([
      'the operation is nested 2 levels deep; the limit is 1',
    ]);
  });

  it('judges each operation of a document on its own', () => {
    const doc = `
      query Shallow { me { account } }
      query Deep { space(name: "s") { collection(name: "c") { stats { records } } } }`;
    expect(messagesOf(doc, 3)).toEqual(['operation Deep is nested 4 levels deep; the limit is 3']);
  });

  it('limits mutations and subscriptions as well as queries', () => {
    const mutation = `mutation {
      putRecord(input: { space: "s", collection: "c", key: "k", value: "v" }) { record { collection { stats { records } } } }
    }`;
    expect(errorsOf(mutation, 5)).toEqual([]);
    expect(messagesOf(mutation, 4)).toEqual(['the operation is nested 5 levels deep; the limit is 4']);
    const subscription = 'subscription { changes(space: "s", collection: "c") { revision } }';
    expect(errorsOf(subscription, 2)).toEqual([]);
    expect(messagesOf(subscription, 1)).toEqual(['the operation is nested 2 levels deep; the limit is 1']);
  });

  it('leaves a fragment cycle to GraphQL’s own rule instead of recursing forever', () => {
    const doc = `
      { space(name: "s") { ...A } }
      fragment A on Space { name ...B }
      fragment B on Space { kind ...A }`;
    const messages = messagesOf(doc, 12);
    expect(messages).toEqual([expect.stringMatching(/Cannot spread fragment "A" within itself/)]);
  });

  it('leaves an unknown fragment to GraphQL’s own rule', () => {
    const messages = messagesOf('{ space(name: "s") { ...Missing } }', 12);
    expect(messages).toEqual(['Unknown fragment "Missing".']);
  });
});

describe('estimateCost', () => {
  const records = (args: string, selection = 'nodes { key }') =>
    `{ collection(space: "s", name: "c") { records${args} { ${selection} } } }`;

  it('charges one per plain field', () => {
    expect(cost('{ me { account } }')).toBe(2);
    expect(cost('{ me { account host admin } }')).toBe(4);
  });

  it('costs nothing when operationName names no operation of the document (execution refuses it)', () => {
    expect(cost('{ me { account } }', {}, 'x')).toBe(0);
    expect(cost('{ me { account } }', {}, '')).toBe(0);
    expect(cost('query A { me { account } } query B { me { account } }', {}, 'C')).toBe(0);
    expect(cost('query A { me { account } } query B { me { account host } }', {}, 'B')).toBe(3);
  });

  it("multiplies a page's items by a literal `first`", () => {
    // collection 1 + records (1 + first × (nodes 1 + key 1))
    expect(cost(records('(first: 10)'))).toBe(1 + 1 + 10 * 2);
    expect(cost(records('(first: 500)'))).toBe(1 + 1 + 500 * 2);
    expect(cost(records('(first: 0)'))).toBe(1 + 1);
  });

  it("charges a connection's totalCount once, whatever the page size", () => {
    for (const first of [0, 10, 1000]) {
      expect(cost(records(`(first: ${first})`, 'totalCount nodes { key }')) - cost(records(`(first: ${first})`))).toBe(
        20,
      );
    }
  });

  it('charges the default page of 100 when `first` is not given', () => {
    expect(cost(records(''))).toBe(1 + 1 + 100 * 2);
  });

  it('reads `first` from the variables, and the default page when the variable is unset', () => {
    const doc = `query Page($n: Int) { collection(space: "s", name: "c") { records(first: $n) { nodes { key } } } }`;
    expect(cost(doc, { n: 40 })).toBe(1 + 1 + 40 * 2);
    expect(cost(doc, { n: 1000 })).toBe(1 + 1 + 1000 * 2);
    expect(cost(doc, {})).toBe(1 + 1 + 100 * 2);
    expect(cost(doc, undefined)).toBe(1 + 1 + 100 * 2);
    // A null or negative `first` (which the resolver refuses) is charged as the default page.
    expect(cost(doc, { n: null })).toBe(1 + 1 + 100 * 2);
    expect(cost(doc, { n: -5 })).toBe(1 + 1 + 100 * 2);
  });

  it('scales with what each item asks for', () => {
    const doc = records('(first: 10)', 'edges { cursor node { key value size } }');
    // edges 1 + cursor 1 + node (1 + 3) = 6 per item
    expect(cost(doc)).toBe(1 + 1 + 10 * 6);
  });

  it('charges at least one per item of a page that selects nothing per item', () => {
    // __typename costs nothing, the page still charges its ten items
    expect(cost(records('(first: 10)', '__typename'))).toBe(1 + 1 + 10 * 1);
  });

  it('multiplies nested pages', () => {
    const doc = `{ space(name: "s") { collections(first: 10) { nodes { keys(first: 20) { nodes { key } } } } } }`;
    // keys: 1 + 20 × 2 = 41; nodes 1 + 41 = 42; collections 1 + 10 × 42 = 421; space 1 + 421
    expect(cost(doc)).toBe(422);
  });

  it('treats Collection.keys and Space.collections as pages', () => {
    expect(cost('{ collection(space: "s", name: "c") { keys(first: 7) { nodes { key } } } }')).toBe(1 + 1 + 7 * 2);
    expect(cost('{ space(name: "s") { collections(first: 3) { nodes { name } } } }')).toBe(1 + 1 + 3 * 2);
  });

  it('charges stats and count their fixed costs for reading a whole collection', () => {
    const collection = (selection: string) => `{ collection(space: "s", name: "c") { ${selection} } }`;
    expect(cost(collection('stats { records }'))).toBe(1 + 100 + 1);
    expect(cost(collection('stats { records bytes lastModified }'))).toBe(1 + 100 + 3);
    expect(cost(collection('count'))).toBe(1 + 20);
    expect(cost(collection('count(filter: { prefix: "p" })'))).toBe(1 + 20);
    expect(cost(collection('name'))).toBe(2);
  });

  it('charges totalCount its fixed cost (seen on a page of one)', () => {
    // On a page of one only: the estimator multiplies everything selected on a connection,
    // totalCount included, by `first`, so other page sizes do not show its fixed cost alone.
    const withTotal = cost(records('(first: 1)', 'totalCount nodes { key }'));
    const without = cost(records('(first: 1)', 'nodes { key }'));
    expect(withTotal - without).toBe(20);
  });

  it('charges the stats of every collection of a page', () => {
    const doc = '{ space(name: "s") { collections(first: 10) { nodes { stats { records } } } } }';
    // nodes 1 + stats (100 + 1) = 102 per item
    expect(cost(doc)).toBe(1 + 1 + 10 * 102);
  });

  it('estimates the named operation of a document with several', () => {
    const doc = `
      query Small { me { account } }
      query Big { collection(space: "s", name: "c") { stats { records } } }`;
    expect(cost(doc, undefined, 'Small')).toBe(2);
    expect(cost(doc, undefined, 'Big')).toBe(102);
  });

  it('refuses, as a GraphQL error, a document that expands beyond what it will estimate', () => {
    // Fragments spread twice at each of 14 levels expand to 2^14 copies of one field.
    const fragments = Array.from({ length: 14 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
    const doc = `{ ...F0 } ${fragments.join(' ')} fragment F14 on Query { me { account } }`;
    expect(() => cost(doc)).toThrow(GraphQLError);
  });

  it('counts the fields of fragments', () => {
    const doc = `
      { collection(space: "s", name: "c") { ...Parts } }
      fragment Parts on Collection { name records(first: 5) { nodes { key } } }`;
    expect(cost(doc)).toBe(1 + 1 + (1 + 5 * 2));
  });
});

describe('checkCost', () => {
  it('accepts any cost up to and including the limit', () => {
    expect(() => checkCost(0, 100)).not.toThrow();
    expect(() => checkCost(99, 100)).not.toThrow();
    expect(() => checkCost(100, 100)).not.toThrow();
  });

  it('refuses a cost above the limit, naming both', () => {
    let thrown: unknown;
    try {
      checkCost(101, 100);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(GraphQLError);
    expect((thrown as GraphQLError).message).toBe("the operation's estimated cost is 101; the limit is 100");
    expect((thrown as GraphQLError).extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses a real page too large for the default limit of the endpoint', () => {
    // maxComplexity 25 000 (DEFAULT_GRAPHQL_OPTIONS): 1000 records with four fields each are fine…
    const fine = cost(records1000('nodes { key value size revision }'));
    expect(fine).toBe(1 + 1 + 1000 * 5);
    expect(() => checkCost(fine, 25_000)).not.toThrow();
    // …their collection's stats on every record are not.
    const tooMuch = cost(records1000('nodes { key collection { stats { records } } }'));
    expect(tooMuch).toBe(1 + 1 + 1000 * (1 + 1 + 1 + 101));
    expect(() => checkCost(tooMuch, 25_000)).toThrow(
      `the operation's estimated cost is ${tooMuch}; the limit is 25000`,
    );
  });
});

function records1000(selection: string) {
  return `{ collection(space: "s", name: "c") { records(first: 1000) { ${selection} } } }`;
}
