import { prefixUpperBound, type RecordFilter } from '@rosetta/core';
import type { SqlExecutor, SqlParam } from './sql';

/** Collects parameters and hands out their `$n` placeholders. */
export class Params {
  readonly values: SqlParam[] = [];

  constructor(...initial: SqlParam[]) {
    this.values.push(...initial);
  }

  add(value: SqlParam): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** A timestamptz column as microseconds since the epoch (int8). */
export const us = (column: string) => `(extract(epoch FROM ${column}) * 1000000)::int8`;

/** A microseconds parameter as timestamptz, exactly (no float rounding). */
const fromUs = (placeholder: string) => `(timestamptz 'epoch' + ${placeholder}::int8 * interval '1 microsecond')`;

function keyRange(prefix: string, params: Params, where: string[]): void {
  where.push(`key >= ${params.add(prefix)}`);
  const upper = prefixUpperBound(prefix);
  if (upper !== undefined) where.push(`key < ${params.add(upper)}`);
}

/** SQL conditions for a filter, appended to `where`. Every value travels as a parameter. */
export function filterConditions(filter: RecordFilter, params: Params, where: string[]): void {
  if (filter.prefix !== undefined) keyRange(filter.prefix, params, where);
  if (filter.start !== undefined) where.push(`key >= ${params.add(filter.start)}`);
  if (filter.end !== undefined) where.push(`key <= ${params.add(filter.end)}`);
  const pattern = filter.pattern;
  if (pattern !== undefined) {
    if (pattern.exact) where.push(`key = ${params.add(pattern.prefix)}`);
    else {
      if (pattern.prefix !== '') keyRange(pattern.prefix, params, where);
      where.push(`key LIKE ${params.add(pattern.like)}`);
    }
  }
  if (filter.createdAfter !== undefined) where.push(`created >= ${fromUs(params.add(filter.createdAfter))}`);
  if (filter.createdBefore !== undefined) where.push(`created < ${fromUs(params.add(filter.createdBefore))}`);
  if (filter.updatedAfter !== undefined) where.push(`updated >= ${fromUs(params.add(filter.updatedAfter))}`);
  if (filter.updatedBefore !== undefined) where.push(`updated < ${fromUs(params.add(filter.updatedBefore))}`);
}

/**
 * How many rows `SELECT 1 FROM <from> WHERE <where>` finds, for sizing a job: counted exactly up
 * to `exactUpTo`, and past that Postgres's planner estimate (never below what was counted). An
 * exact count visits every matching row (0.6–0.8 s a million here, more under load, so tens of
 * millions would run into the statement timeout); this costs what counting `exactUpTo` rows does.
 */
export async function estimateRows(
  db: SqlExecutor,
  from: string,
  where: readonly string[],
  params: Params,
  exactUpTo: number,
): Promise<number> {
  const select = `SELECT 1 FROM ${from} WHERE ${where.join(' AND ')}`;
  const counting = new Params(...params.values);
  const limit = counting.add(exactUpTo + 1);
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int8 AS n FROM (${select} LIMIT ${limit}) AS counted`,
    counting.values,
  );
  const counted = rows[0]?.n ?? 0;
  if (counted <= exactUpTo) return counted;
  const plan = await db.query<{ 'QUERY PLAN': Array<{ Plan: { 'Plan Rows': number } }> }>(
    `EXPLAIN (FORMAT JSON) ${select}`,
    params.values,
  );
  return Math.max(counted, Math.round(plan.rows[0]?.['QUERY PLAN'][0]?.Plan['Plan Rows'] ?? 0));
}
