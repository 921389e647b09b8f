import type http2 from 'node:http2';

/**
 * HTTP/2 flow control between the services. A receiver lets its peer send only as many bytes as
 * its windows allow before it acknowledges them: one window per stream, one for the whole
 * connection, both 64 KiB by default. Every call between two processes shares one connection,
 * so with the defaults all the scans streaming records to a gateway shared 64 KiB in flight;
 * under a mixed load (bench `all-in-one`) that made 1000-record lists wait 3-4 s for it, their
 * api reads taking 6 ms.
 *
 * The connection's window is raised to CONNECTION_WINDOW_BYTES. A stream's stays at 64 KiB
 * where its messages are read as they come (a scan read by a slow client holds that much of the
 * connection's window at most: it takes 256 of them, the gateway's default cap on open streams,
 * to hold all of it), and is UNARY_STREAM_WINDOW_BYTES where a message is read whole anyway
 * (unary requests and responses): a batch of 1 MiB arrives in one round trip instead of 16.
 */
export const CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;
export const UNARY_STREAM_WINDOW_BYTES = 1024 * 1024;

/** Raises a session's connection-level receive window (at once, or once it has connected). */
export function widenConnectionWindow(session: http2.Http2Session): void {
  if (session.connecting) session.once('connect', () => widenConnectionWindow(session));
  else if (!session.destroyed) session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
}
