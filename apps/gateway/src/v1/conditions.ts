import type { MessageInitShape } from '@bufbuild/protobuf';
import { invalid, type WriteCondition } from '@rosetta/core';
import type { ConditionSchema } from '@rosetta/proto';

/** An entity-tag header: `*`, or the list of tags it names (quotes removed, weak ones marked). */
type EtagList = '*' | Array<{ readonly tag: string; readonly weak: boolean }>;

function parseEtags(header: string, name: string): EtagList {
  const text = header.trim();
  if (text === '*') return '*';
  const tags: Array<{ tag: string; weak: boolean }> = [];
  for (const part of text.split(',')) {
    const match = /^\s*(W\/)?"([^"]*)"\s*$/.exec(part);
    if (match === null) throw invalid('INVALID_ARGUMENT', `malformed ${name} header`);
    tags.push({ tag: match[2] as string, weak: match[1] !== undefined });
  }
  return tags;
}

export function etagOf(revision: number | bigint): string {
  return `"${revision}"`;
}

function revisionFromTag(tag: string, name: string): number {
  if (!/^[1-9]\d{0,15}$/.test(tag)) throw invalid('INVALID_ARGUMENT', `${name} must name a revision, like "42"`);
  return Number(tag);
}

/**
 * The write condition of a PUT: `If-None-Match: *` creates only, `If-Match: *` updates only,
 * `If-Match: "<revision>"` is compare-and-set. Only strong tags can match (RFC 9110 §13.1.1).
 */
export function writeCondition(ifMatch: string | undefined, ifNoneMatch: string | undefined): WriteCondition {
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw invalid('INVALID_ARGUMENT', 'send If-Match or If-None-Match, not both');
  }
  if (ifNoneMatch !== undefined) {
    if (parseEtags(ifNoneMatch, 'If-None-Match') !== '*') {
      throw invalid('INVALID_ARGUMENT', 'on writes, If-None-Match supports only "*"');
    }
    return { kind: 'absent' };
  }
  if (ifMatch === undefined) return { kind: 'always' };
  const tags = parseEtags(ifMatch, 'If-Match');
  if (tags === '*') return { kind: 'present' };
  if (tags.length !== 1) throw invalid('INVALID_ARGUMENT', 'If-Match must name exactly one revision');
  const [only] = tags as [{ tag: string; weak: boolean }];
  if (only.weak) throw invalid('REVISION_MISMATCH', 'a weak entity tag never matches If-Match');
  return { kind: 'revision', revision: revisionFromTag(only.tag, 'If-Match') };
}

/** Whether a GET's If-None-Match matches the current revision (weak comparison), so 304 applies. */
export function notModified(ifNoneMatch: string | undefined, revision: number | bigint): boolean {
  if (ifNoneMatch === undefined) return false;
  const tags = parseEtags(ifNoneMatch, 'If-None-Match');
  return tags === '*' || tags.some((t) => t.tag === String(revision));
}

/** A write condition as the record service's contract carries it (undefined: always). */
export function conditionMessage(condition: WriteCondition): MessageInitShape<typeof ConditionSchema> | undefined {
  switch (condition.kind) {
    case 'revision':
      return { kind: { case: 'expectedRevision', value: BigInt(condition.revision) } };
    case 'absent':
      return { kind: { case: 'createOnly', value: true } };
    case 'present':
      return { kind: { case: 'mustExist', value: true } };
    default:
      return undefined;
  }
}
