// Every error of the HTTP server is the documented JSON `{ "error": { "code", "message" } }`
// with a stable code: ours, the body parsers' (charset, encoding, malformed JSON, too large),
// the router's (a path that does not decode), a missing route or method. Client errors are 4xx
// and never print a stack; a server error is logged once, without the request's content.
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';

/** An HTTP error with a stable code; only the transport turns it into a response. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Where HTTP errors are reported (pino's signature). */
export interface HttpErrorLog {
  warn(data: object, message: string): void;
  error(data: object, message: string): void;
}

// The body parsers' error types (body-parser, raw-body) as our codes.
const BODY_ERRORS: Record<string, [number, string, string]> = {
  'charset.unsupported': [415, 'unsupported_charset', 'the body must be UTF-8 (charset=utf-8)'],
  'encoding.unsupported': [415, 'unsupported_encoding', 'the body must not be compressed (no Content-Encoding)'],
  'entity.parse.failed': [400, 'malformed_json', 'the body is not valid JSON'],
  'entity.too.large': [413, 'payload_too_large', 'the body is too large'],
  'parameters.too.many': [413, 'payload_too_large', 'too many parameters'],
  'request.aborted': [400, 'request_aborted', 'the request was aborted before its body arrived'],
  'request.size.invalid': [400, 'invalid_content_length', 'the body does not match its Content-Length'],
};

/** Any failure of a request as an HttpError: ours as they are, known client errors with their code, the rest a 500. */
export function httpErrorOf(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const e = error as { type?: unknown; status?: unknown; statusCode?: unknown; limit?: unknown };
  const known = typeof e?.type === 'string' ? BODY_ERRORS[e.type] : undefined;
  if (known) {
    const [status, code, message] = known;
    return new HttpError(status, code, code === 'payload_too_large' && typeof e.limit === 'number' ? `${message} (at most ${e.limit} bytes)` : message);
  }
  if (error instanceof URIError) return new HttpError(400, 'malformed_uri', 'the path is not valid percent-encoded UTF-8');
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) return new HttpError(status, 'bad_request', 'the request cannot be served');
  return new HttpError(500, 'internal', 'internal error');
}

/** Sends an error as the documented JSON. */
export function sendError(res: Response, error: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: { code: string; message: string; details?: unknown } = { code: error.code, message: error.message };
  if (error.details !== undefined) body.details = error.details;
  res.status(error.status).json({ error: body });
}

/** The last error handler: JSON with a stable code; client errors logged at debug level only, server errors once. */
export function jsonErrors(log?: HttpErrorLog): ErrorRequestHandler {
  return (error: unknown, req: Request, res: Response, _next) => {
    const http = httpErrorOf(error);
    // Our own refusals (busy, unavailable) are answers; anything else that ends in a 5xx is a failure to look at.
    if (http.status >= 500 && !(error instanceof HttpError)) log?.error({ method: req.method, path: req.path, err: (error as Error)?.message }, 'request failed');
    // Refused before its body was read (a 20 MB upload without a valid token): close rather than read the rest.
    if (!req.complete) res.set('Connection', 'close');
    sendError(res, http);
  };
}

/** A 404 in the documented format. */
export function notFound(message = 'no such resource'): RequestHandler {
  return (_req, res) => sendError(res, new HttpError(404, 'not_found', message));
}
