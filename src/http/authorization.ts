/**
 * Framework-free parsing of the `Authorization` request header (RFC 7235 §2.1, RFC 6750 §2.1).
 * Accepts `Bearer <token>` (RFC 6750) and `Token <token>` (the Python plugin's and DRF's scheme), the
 * scheme matched case-insensitively, separated from the token by one or more spaces; and
 * `DPoP <token>` (RFC 9449 §7.1) for tokens bound to a device key, which then need a `DPoP` proof.
 */

/** Longest Authorization header looked at, in characters; longer ones are refused unread. */
export const MAX_AUTHORIZATION_LENGTH = 1024;

/** Accepted schemes, lower case. */
export const AUTH_SCHEMES = ['bearer', 'token', 'dpop'] as const;

/** Outcome of {@link parseAuthorization}. `token` is only a candidate: its format is checked later, still without I/O. */
export type AuthorizationParse =
  | {
      /** No `Authorization` header. */
      kind: 'missing';
    }
  | {
      /** A header that is not `Bearer <token>`, `Token <token>` or `DPoP <token>`. */
      kind: 'malformed';
      /** What is wrong with it, for the `error_description` (never the header's value). */
      description: string;
    }
  | {
      /** A credential in an accepted scheme. */
      kind: 'token';
      /** The candidate token (not yet format-checked). */
      token: string;
      /** True for the `DPoP` scheme (RFC 9449 §7.1): the request must carry a `DPoP` proof. */
      dpop?: true;
    };

const SHAPE_RE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +(\S+)$/;

/**
 * Parses the `Authorization` header values of one request. Pass every value the request carried
 * (Node keeps only the first of repeated `Authorization` headers in `req.headers`; adapters read
 * `rawHeaders`), or a single string. Never throws.
 *
 * Rejected (`malformed`): an empty value; two or more headers; anything but printable ASCII (tab, NBSP, non-ASCII);
 * more than {@link MAX_AUTHORIZATION_LENGTH} characters; no scheme or no token; a scheme other than
 * Bearer/Token; leading spaces; extra parts or commas (joined credentials).
 */
export function parseAuthorization(values: string | readonly string[] | undefined | null): AuthorizationParse {
  if (typeof values === 'string') {
    const token = plainBearerToken(values);
    if (token !== null) return { kind: 'token', token };
  }
  const list = values === undefined || values === null ? [] : typeof values === 'string' ? [values] : values;
  if (list.length === 0) return { kind: 'missing' };
  if (list.length > 1) return { kind: 'malformed', description: 'more than one Authorization header' };
  const value = list[0];
  if (typeof value !== 'string') return { kind: 'missing' };
  // A header that is present but empty (or only whitespace, which Node trims away) is a bad header,
  // not an absent one: `optional` routes must not let it through as anonymous.
  if (value.length === 0) return { kind: 'malformed', description: 'empty Authorization header' };
  if (value.length > MAX_AUTHORIZATION_LENGTH)
    return { kind: 'malformed', description: 'Authorization header too long' };
  if (!/^[\x20-\x7e]*$/.test(value))
    return { kind: 'malformed', description: 'Authorization header must be printable ASCII' };
  const m = SHAPE_RE.exec(value);
  if (!m) return { kind: 'malformed', description: 'expected "Authorization: Bearer <token>"' };
  if (!(AUTH_SCHEMES as readonly string[]).includes(m[1]!.toLowerCase()))
    return { kind: 'malformed', description: 'unsupported authorization scheme: use Bearer, Token or DPoP' };
  const token = m[2]!;
  if (token.includes(',')) return { kind: 'malformed', description: 'one credential expected' };
  return m[1]!.length === 4 && m[1]!.toLowerCase() === 'dpop'
    ? { kind: 'token', token, dpop: true }
    : { kind: 'token', token };
}

/**
 * The token of the usual header, `Bearer <token>` with one space and a token of printable ASCII without
 * spaces or commas, else null (the full parse then decides): the same answer as the full parse for the
 * headers it accepts, without its regular expressions.
 */
function plainBearerToken(value: string): string | null {
  const n = value.length;
  if (n <= 7 || n > MAX_AUTHORIZATION_LENGTH || !value.startsWith('Bearer ')) return null;
  for (let i = 7; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c > 0x7e || c === 0x2c) return null;
  }
  return value.slice(7);
}

/**
 * The `Authorization` header of a request from Node's `rawHeaders` ([name, value, name, value, ...]),
 * for {@link parseAuthorization}: undefined when absent, the value (trimmed) when there is one, every
 * value when there are several. The same answer as {@link authorizationFromRawHeaders} without
 * building an array for the usual request.
 */
export function authorizationOfRawHeaders(rawHeaders: readonly string[]): string | string[] | undefined {
  let found: string | string[] | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length !== 13 || name.toLowerCase() !== 'authorization') continue;
    const value = trimOws(rawHeaders[i + 1]!);
    if (found === undefined) found = value;
    else if (typeof found === 'string') found = [found, value];
    else found.push(value);
  }
  return found;
}

/** Collects the values of every `Authorization` header from Node's `rawHeaders` ([name, value, name, value, ...]). */
export function authorizationFromRawHeaders(rawHeaders: readonly string[]): string[] {
  const found = authorizationOfRawHeaders(rawHeaders);
  return found === undefined ? [] : typeof found === 'string' ? [found] : found;
}

/**
 * A header value without its optional white space (RFC 9110 §5.6.3: spaces and horizontal tabs only).
 * Not `String.prototype.trim`, which also strips NBSP and other Unicode spaces that the token parser
 * must see, and refuse, as malformed.
 */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}
