/** Masking for values that must never reach a log line or an error message in clear. */

/** A secret shown only by its length, so an operator can tell "empty" from "set". */
export function maskSecret(value: string): string {
  return `****** (${value.length} characters)`;
}

/** A connection URL with its password replaced; anything unparsable is masked whole. */
export function maskUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '******';
    return url.toString();
  } catch {
    return maskSecret(value);
  }
}

/** Object keys whose values pino replaces with "[redacted]" wherever they appear in a log. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-slack-signature"]',
  'req.headers["webhook-signature"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'cookie',
  'password',
  'secret',
  'token',
  'apiKey',
  'key',
  '*.password',
  '*.secret',
  '*.token',
  '*.apiKey',
  '*.key',
  '*.masterKey',
  '*.adminKey',
];
