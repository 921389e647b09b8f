import type { IncomingMessage } from 'node:http';
import type { Client } from '@connectrpc/connect';
import type { AuthService } from '@rosetta/proto';
import { Callers } from './callers';

/** Authentication is not called by these tests: clientAddress reads only the request. */
const auth = {} as Client<typeof AuthService>;

const request = (peer: string, forwarded?: string) =>
  ({
    socket: { remoteAddress: peer },
    connection: { remoteAddress: peer },
    headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
  }) as unknown as IncomingMessage;

describe('the client address of a request', () => {
  it('is the connection peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(new Callers(auth).clientAddress(request('198.51.100.4', '203.0.113.7'))).toBe('198.51.100.4');
  });

  it('is the address a trusted proxy forwarded, and never one a client made up behind it', () => {
    const callers = new Callers(auth, ['loopback', '10.0.0.0/8']);
    expect(callers.clientAddress(request('127.0.0.1', '203.0.113.7'))).toBe('203.0.113.7');
    expect(callers.clientAddress(request('127.0.0.1', '192.0.2.1, 203.0.113.7, 10.1.2.3'))).toBe('203.0.113.7');
    expect(callers.clientAddress(request('198.51.100.4', '203.0.113.7'))).toBe('198.51.100.4');
  });
});
