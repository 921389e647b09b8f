import { GraphQLError, GraphQLScalarType, Kind, valueFromASTUntyped, type ValueNode } from 'graphql';
import { formatMicros, parseRfc3339Micros } from '@rosetta/core';

const refuse = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });

/** Instants travel inside Rosetta as microseconds since the epoch (bigint from the contract). */
export const DateTime = new GraphQLScalarType<bigint, string>({
  name: 'DateTime',
  serialize(value) {
    if (typeof value !== 'bigint' && typeof value !== 'number') throw new GraphQLError('DateTime: not an instant');
    return formatMicros(Number(value));
  },
  parseValue(value) {
    if (typeof value !== 'string') throw refuse('DateTime must be an RFC 3339 string');
    return micros(value);
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw refuse('DateTime must be an RFC 3339 string');
    return micros(ast.value);
  },
});

function micros(text: string): bigint {
  const us = parseRfc3339Micros(text);
  if (us === undefined) throw refuse(`"${text.slice(0, 64)}" is not an RFC 3339 date-time with an offset`);
  return BigInt(us);
}

const DIGITS = /^-?\d{1,19}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** 64-bit integers: bigint inside, a JSON number outside (the contract keeps them below 2^53). */
export const Long = new GraphQLScalarType<bigint, number>({
  name: 'Long',
  serialize(value) {
    if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) return Number(value);
    throw new GraphQLError('Long: not an integer');
  },
  parseValue(value) {
    if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
    if (typeof value === 'string') return long(value);
    throw refuse('Long must be an integer (or a string of digits)');
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.INT || ast.kind === Kind.STRING) return long(ast.value);
    throw refuse('Long must be an integer (or a string of digits)');
  },
});

function long(text: string): bigint {
  if (!DIGITS.test(text)) throw refuse(`"${text.slice(0, 32)}" is not a 64-bit integer`);
  const value = BigInt(text);
  if (value < INT64_MIN || value > INT64_MAX) throw refuse(`${text} is not a 64-bit integer`);
  return value;
}

/** Any JSON value, as it is. */
export const JSONScalar = new GraphQLScalarType<unknown, unknown>({
  name: 'JSON',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast: ValueNode, variables) => valueFromASTUntyped(ast, variables),
});
