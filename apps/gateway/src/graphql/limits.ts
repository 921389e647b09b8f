import {
  getOperationAST,
  GraphQLError,
  Kind,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { MAX_SCHEDULES_PER_COLLECTION, MAX_WEBHOOKS_PER_COLLECTION } from '@rosetta/core';

export interface QueryLimits {
  /** Deepest nesting of fields a document may have (introspection fields excepted). */
  readonly maxDepth: number;
  /** Highest estimated cost of an operation (see `estimateCost`). */
  readonly maxComplexity: number;
  /**
   * Most tokens a document may have: parsing stops past them. Parsing costs time in proportion
   * to the document's size before any other limit can look at it. DEFAULT_MAX_TOKENS when unset.
   */
  readonly maxTokens?: number;
}

/** Tokens of a document when QueryLimits sets none: room for putRecords of 10,000 inline records. */
export const DEFAULT_MAX_TOKENS = 100_000;

// `http` sets the answer's status (Apollo removes it from the error): a refused operation is the
// client's error, not a 500.
const refusal = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } });

/**
 * A validation rule refusing documents nested deeper than `maxDepth`, fragments followed.
 * Introspection (`__schema`, `__type`) is not counted: GraphiQL's own query nests type references
 * deeply, and it costs nothing per record.
 */
export function depthLimit(maxDepth: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    // A fragment's depth does not depend on where it is spread: each is measured once, so that
    // fragments spreading others many times cannot make this exponential.
    const fragmentDepths = new Map<string, number>();
    const measuring = new Set<string>();
    const depthOf = (set: SelectionSetNode): number => {
      let deepest = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value.startsWith('__')) continue;
          const below = selection.selectionSet === undefined ? 0 : depthOf(selection.selectionSet);
          deepest = Math.max(deepest, 1 + below);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(selection.selectionSet));
        } else {
          deepest = Math.max(deepest, fragmentDepth(selection.name.value));
        }
      }
      return deepest;
    };
    const fragmentDepth = (name: string): number => {
      const known = fragmentDepths.get(name);
      if (known !== undefined) return known;
      const fragment = fragments.get(name);
      // A fragment that spreads itself is refused by GraphQL's own NoFragmentCycles rule.
      if (fragment === undefined || measuring.has(name)) return 0;
      measuring.add(name);
      const depth = depthOf(fragment.selectionSet);
      measuring.delete(name);
      fragmentDepths.set(name, depth);
      return depth;
    };
    return {
      OperationDefinition(operation) {
        const depth = depthOf(operation.selectionSet);
        if (depth > maxDepth) {
          const name = operation.name === undefined ? 'the operation' : `operation ${operation.name.value}`;
          context.reportError(refusal(`${name} is nested ${depth} levels deep; the limit is ${maxDepth}`));
        }
      },
    };
  };
}

/** Fields that read a whole collection, whatever they return. */
const SCAN_COST: Record<string, number> = {
  'Collection.stats': 100,
  'Collection.count': 20,
  'RecordConnection.totalCount': 20,
};
/** Fields that return a page: what is asked of each item, times the page size. */
const PAGED = new Set([
  'Collection.records',
  'Collection.keys',
  'Space.collections',
  'Webhook.deliveries',
  'Query.jobs',
  'Query.snapshots',
]);
/** Lists without a page size but with a ceiling: what is asked of each item, times the ceiling. */
const BOUNDED: Record<string, number> = {
  'Collection.webhooks': MAX_WEBHOOKS_PER_COLLECTION,
  'Collection.snapshotSchedules': MAX_SCHEDULES_PER_COLLECTION,
};
const DEFAULT_PAGE = 100;

const TOTAL_COUNT = SCAN_COST['RecordConnection.totalCount'] as number;

const estimator: ComplexityEstimator = ({ type, field, node, args, childComplexity }) => {
  const name = `${type.name}.${field.name}`;
  const scan = SCAN_COST[name];
  if (scan !== undefined) return scan + childComplexity;
  const most = BOUNDED[name];
  if (most !== undefined) return 1 + most * childComplexity;
  if (PAGED.has(name)) {
    const first = typeof args.first === 'number' && args.first >= 0 ? args.first : DEFAULT_PAGE;
    // A connection's totalCount is paid once, not per item (when selected directly on it;
    // through a fragment it is charged per item, which errs on the safe side).
    const counts = (node.selectionSet?.selections ?? []).filter(
      (s) => s.kind === Kind.FIELD && s.name.value === 'totalCount',
    ).length;
    const once = counts * TOTAL_COUNT;
    return 1 + once + first * Math.max(1, childComplexity - once);
  }
  return undefined;
};

/**
 * The estimated cost of an operation: one per field, a page's items times the page size, and a
 * fixed charge for fields that read a whole collection.
 */
export function estimateCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined,
): number {
  // Apollo asks for the cost before it notices that `operationName` names no operation of the
  // document (its execution answers that with a 400). getComplexity would read the name of an
  // anonymous operation and fail with a TypeError (a 500): nothing runs, so nothing costs.
  if (getOperationAST(document, operationName) === null) return 0;
  try {
    return getComplexity({
      schema,
      query: document,
      variables: variables ?? {},
      ...(operationName === undefined ? {} : { operationName }),
      estimators: [estimator, simpleEstimator({ defaultComplexity: 1 })],
    });
  } catch (error) {
    // Estimating coerces the variables before execution does: a value that does not fit its type
    // (an unknown enum value, a string for an Int) must be refused as execution would refuse it,
    // not pass as an unexpected failure.
    if (error instanceof GraphQLError && error.extensions.code === undefined) {
      throw new GraphQLError(error.message, {
        nodes: error.nodes,
        originalError: error,
        extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
      });
    }
    throw error;
  }
}

/** Throws the refusal of an operation that costs more than `max`. */
export function checkCost(cost: number, max: number): void {
  if (cost > max) throw refusal(`the operation's estimated cost is ${cost}; the limit is ${max}`);
}
