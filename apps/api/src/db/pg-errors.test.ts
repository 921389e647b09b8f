import { isDomainError } from '@rosetta/core';
import { isUnavailable, toStoreError } from './pg-errors';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isUnavailable', () => {
  it.each([
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['a reset connection', withCode('read ECONNRESET', 'ECONNRESET')],
    ['a server shutting down its backends', withCode('terminating connection due to administrator command', '57P01')],
    ['a server starting up', withCode('the database system is starting up', '57P03')],
    ['a full server', withCode('sorry, too many clients already', '53300')],
    ['a statement past its timeout', withCode('canceling statement due to statement timeout', '57014')],
    ['a connection exception', withCode('connection failure', '08006')],
    ['a connection lost by the driver', new Error('Connection terminated unexpectedly')],
    ['no connection free in time', new Error('timeout exceeded when trying to connect')],
  ])('is true for %s', (_, error) => {
    expect(isUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', withCode('duplicate key value violates unique constraint', '23505')],
    ['a syntax error', withCode('syntax error at or near "SELEC"', '42601')],
    ['a plain bug', new TypeError('cannot read properties of undefined')],
    ['a non-error', 'ECONNREFUSED'],
    ['nothing', undefined],
  ])('is false for %s', (_, error) => {
    expect(isUnavailable(error)).toBe(false);
  });
});

describe('toStoreError', () => {
  it('turns an unavailable database into UNAVAILABLE with Retry-After and the cause', () => {
    const cause = withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED');
    const error = toStoreError(cause);
    expect(isDomainError(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'UNAVAILABLE',
      retryAfterSeconds: 1,
      publicMessage: 'the database is unavailable; retry shortly',
      cause,
    });
  });

  it('leaves every other error as it is', () => {
    const error = withCode('duplicate key value violates unique constraint', '23505');
    expect(toStoreError(error)).toBe(error);
  });
});
