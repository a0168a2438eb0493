import net from 'node:net';
import type { Logger } from '../log.ts';

/**
 * The sockets postgres.js connects through (its `socket` option), for one failure it handles
 * badly: a server that accepts the TCP connection and closes it cleanly during the startup
 * handshake (a proxy without a backend, a server at its connection limit, a half-started
 * container). postgres.js 3.4 then reconnects at once, forever, and the queries waiting for
 * that connection wait forever (connection.js closed(): `if (initial) return reconnect()`).
 * Here such a close becomes an error: postgres.js fails the waiting queries with it and waits
 * its backoff before the next attempt. Closes after the handshake are left alone.
 *
 * The handshake is over at the server's first ReadyForQuery. With TLS, postgres.js takes the
 * socket over after the server agrees (its listeners replace ours), so a TLS connection is
 * watched only up to that point.
 */
export function guardedSockets(reachability: Reachability) {
  let next = 0;
  return (options: PostgresSocketOptions): net.Socket => {
    const i = next++ % options.host.length;
    const host = options.host[i] ?? 'localhost';
    const port = options.port[i] ?? 5432;
    const where = options.path ? options.path : `${host}:${port}`;
    const socket = options.path ? net.connect(options.path) : net.connect(port, host);
    // postgres.js reads it for TLS's server name, as on the sockets it connects itself.
    (socket as net.Socket & { host?: string }).host = host;
    let ready = false;
    let refusal: string | undefined;
    const messages = messageReader(options, {
      ready() {
        ready = true;
        reachability.reached();
      },
      error(message) {
        refusal = message;
      },
    });
    socket.on('data', (chunk: Buffer) => {
      if (!ready) messages(chunk);
    });
    socket.on('end', () => {
      if (ready) return;
      // The server said why (a bad password, too many clients): postgres.js fails the waiting
      // query with that and does not loop.
      if (refusal !== undefined) {
        reachability.failed(`the database server at ${where} refused the connection: ${refusal}`);
        return;
      }
      const error = Object.assign(
        new Error(
          `the database server at ${where} closed the connection during the startup handshake ` +
            '(is it a Postgres server that accepts this client? its log says why)',
        ),
        { code: 'CONNECTION_CLOSED' },
      );
      reachability.failed(error.message);
      socket.destroy(error);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!ready && error.code !== 'CONNECTION_CLOSED') {
        reachability.failed(`cannot connect to the database server at ${where}: ${error.message}`);
      }
    });
    return socket;
  };
}

/** What postgres.js passes its `socket` factory (the parsed connection options). */
export interface PostgresSocketOptions {
  host: string[];
  port: number[];
  path?: string | false;
  ssl?: unknown;
  sslnegotiation?: string | null;
}

/**
 * Reads the server's handshake messages up to its first ReadyForQuery ('Z'), noting an
 * ErrorResponse ('E') on the way. Server messages are a type byte and a 4-byte length that
 * counts itself; before them, if postgres.js asked for TLS, comes one unframed byte: 'S' (TLS
 * follows: nothing more to read here) or 'N' (plain text goes on).
 */
function messageReader(
  options: PostgresSocketOptions,
  on: { ready(): void; error(message: string): void },
) {
  const onReady = () => on.ready();
  let sslAnswer = Boolean(options.ssl) && options.sslnegotiation !== 'direct';
  let buffered = Buffer.alloc(0);
  let done = false;
  return (chunk: Buffer) => {
    if (done) return;
    buffered = Buffer.concat([buffered, chunk]);
    if (sslAnswer && buffered.length > 0) {
      sslAnswer = false;
      if (buffered[0] === 0x53) {
        done = true;
        onReady();
        return;
      }
      buffered = buffered.subarray(1);
    }
    while (buffered.length >= 5) {
      const length = buffered.readUInt32BE(1);
      if (buffered[0] === 0x5a) {
        done = true;
        onReady();
        return;
      }
      if (buffered.length < 1 + length) return;
      if (buffered[0] === 0x45) on.error(errorMessage(buffered.subarray(5, 1 + length)));
      buffered = buffered.subarray(1 + length);
    }
  };
}

/** An ErrorResponse's fields: a type byte and a NUL-terminated text each; 'M' is the message. */
function errorMessage(fields: Buffer): string {
  let at = 0;
  while (at < fields.length && fields[at] !== 0) {
    const end = fields.indexOf(0, at + 1);
    if (end < 0) break;
    if (fields[at] === 0x4d) return fields.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return 'an error without a message';
}

/**
 * Whether the database can be reached, told by the sockets: a lost database is logged once with
 * its cause, however many connections and queries fail meanwhile, and once when it is back.
 */
export class Reachability {
  private down = false;

  constructor(
    private readonly log: Logger,
    private readonly database: string,
  ) {}

  failed(cause: string): void {
    if (this.down) return;
    this.down = true;
    this.log.warn({ database: this.database, cause }, 'database unreachable');
  }

  reached(): void {
    if (!this.down) return;
    this.down = false;
    this.log.info({ database: this.database }, 'database reachable again');
  }
}
