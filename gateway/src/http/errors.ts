import type { NextFunction, Request, Response } from 'express';
import { isDatabaseUnreachable } from '../db/connect.ts';
import { ERRORS, type ErrorCode, SwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';

/** The one shape of every error answer: `{ "error": { "code", "message", ...details } }`. */
export function sendError(res: Response, error: SwitchboardError, requestId?: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(error.status).json({
    error: { code: error.code, message: error.message, ...error.details, requestId },
  });
}

/**
 * The same shape from a route that answers without throwing (the MCP routes' auth guard): the
 * status from the code, `extra` after the message, and no requestId (those routes never had one).
 */
export function sendErrorBody(
  res: Response,
  code: ErrorCode,
  message: string,
  extra: Record<string, unknown> = {},
): void {
  res.status(ERRORS[code].status).json({ error: { code, message, ...extra } });
}

export function notFoundHandler(req: Request, res: Response): void {
  sendError(
    res,
    new SwitchboardError('not_found', `no route for ${req.method} ${req.path}`),
    req.id,
  );
}

/** body-parser errors carry `type` and `status`; map the ones a client can cause. */
function fromBodyParser(error: { type?: unknown; limit?: unknown }): SwitchboardError | undefined {
  switch (error.type) {
    case 'entity.too.large':
      return new SwitchboardError(
        'payload_too_large',
        `request body is larger than the limit of ${error.limit} bytes`,
        { details: { limit: error.limit } },
      );
    case 'entity.parse.failed':
      return new SwitchboardError('invalid_json', 'request body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new SwitchboardError('unsupported_encoding', 'request body encoding is not supported');
    case 'request.aborted':
      return new SwitchboardError('request_aborted', 'the client aborted the request');
    default:
      return undefined;
  }
}

function databaseDown(error: unknown): SwitchboardError | undefined {
  if (!isDatabaseUnreachable(error)) return undefined;
  return new SwitchboardError(
    'database_unavailable',
    'the database is unreachable; try again shortly',
  );
}

export function errorHandler(log: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const known =
      error instanceof SwitchboardError
        ? error
        : typeof error === 'object' && error !== null
          ? (fromBodyParser(error as { type?: unknown }) ?? databaseDown(error))
          : undefined;
    // A lost database is logged once by its sockets (db/socket.ts), not once per request.
    if (known && (known.status < 500 || known.code === 'database_unavailable')) {
      sendError(res, known, req.id);
      return;
    }
    // Unexpected: log it whole, answer with nothing the client could learn internals from.
    log.error({ err: error, reqId: req.id }, 'request failed');
    sendError(
      res,
      known ?? new SwitchboardError('internal', `internal error (request id ${req.id})`),
      req.id,
    );
  };
}
