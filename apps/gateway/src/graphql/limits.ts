import {
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

export interface QueryLimits {
  /** Deepest nesting of fields a document may have (introspection fields excepted). */
  readonly maxDepth: number;
  /** Highest estimated cost of an operation (see `estimateCost`). */
  readonly maxComplexity: number;
}

const refusal = (message: string) => new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });

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
    const depthOf = (set: SelectionSetNode, seen: ReadonlySet<string>): number => {
      let deepest = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value.startsWith('__')) continue;
          const below = selection.selectionSet === undefined ? 0 : depthOf(selection.selectionSet, seen);
          deepest = Math.max(deepest, 1 + below);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(selection.selectionSet, seen));
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          // A fragment that spreads itself is refused by GraphQL's own NoFragmentCycles rule.
          if (fragment === undefined || seen.has(name)) continue;
          deepest = Math.max(deepest, depthOf(fragment.selectionSet, new Set([...seen, name])));
        }
      }
      return deepest;
    };
    return {
      OperationDefinition(operation) {
        const depth = depthOf(operation.selectionSet, new Set());
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
const PAGED = new Set(['Collection.records', 'Collection.keys', 'Space.collections']);
const DEFAULT_PAGE = 100;

const estimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  const name = `${type.name}.${field.name}`;
  const scan = SCAN_COST[name];
  if (scan !== undefined) return scan + childComplexity;
  if (PAGED.has(name)) {
    const first = typeof args.first === 'number' && args.first >= 0 ? args.first : DEFAULT_PAGE;
    return 1 + first * Math.max(1, childComplexity);
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
  return getComplexity({
    schema,
    query: document,
    variables: variables ?? {},
    ...(operationName === undefined ? {} : { operationName }),
    estimators: [estimator, simpleEstimator({ defaultComplexity: 1 })],
  });
}

/** Throws the refusal of an operation that costs more than `max`. */
export function checkCost(cost: number, max: number): void {
  if (cost > max) throw refusal(`the operation's estimated cost is ${cost}; the limit is ${max}`);
}
