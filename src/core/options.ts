import { InvalidArgumentTypeError, InvalidArgumentValueError } from './errors.js';

/** Longest accepted TTL or lifetime: 10 years, in seconds (315,360,000). */
export const MAX_DURATION_SECONDS = 10 * 365 * 24 * 3600;

/**
 * Checks a duration option given in whole SECONDS and returns it in milliseconds.
 * `null` is accepted only when `allowNull` (it means "none" / "immortal"); `undefined` gives `fallback`.
 *
 * @throws {InvalidArgumentTypeError} not a number (nor null where allowed).
 * @throws {InvalidArgumentValueError} NaN, not an integer, below `min` seconds, or above {@link MAX_DURATION_SECONDS}.
 */
export function secondsOption(
  name: string,
  value: unknown,
  opts: { allowNull: boolean; min: number; fallback: number | null },
): number | null {
  if (value === undefined) return opts.fallback === null ? null : opts.fallback * 1000;
  if (value === null) {
    if (opts.allowNull) return null;
    throw new InvalidArgumentTypeError(`${name} must be a number of seconds; null is not allowed here`);
  }
  if (typeof value !== 'number')
    throw new InvalidArgumentTypeError(
      `${name} must be a whole number of seconds${opts.allowNull ? ' or null' : ''}; got ${typeof value}`,
    );
  if (!Number.isInteger(value) || value < opts.min || value > MAX_DURATION_SECONDS)
    throw new InvalidArgumentValueError(
      `${name} must be a whole number of seconds from ${opts.min} to ${MAX_DURATION_SECONDS}${opts.allowNull ? ' (or null)' : ''}; got ${String(value)}`,
    );
  return value * 1000;
}

/**
 * Checks a positive-integer count option (or null for "no limit").
 * @throws {InvalidArgumentTypeError} / {@link InvalidArgumentValueError} naming the option.
 */
export function countOption(
  name: string,
  value: unknown,
  opts: { allowNull: boolean; min: number; max: number; fallback: number | null },
): number | null {
  if (value === undefined) return opts.fallback;
  if (value === null && opts.allowNull) return null;
  if (typeof value !== 'number')
    throw new InvalidArgumentTypeError(
      `${name} must be a whole number${opts.allowNull ? ' or null' : ''}; got ${value === null ? 'null' : typeof value}`,
    );
  if (!Number.isInteger(value) || value < opts.min || value > opts.max)
    throw new InvalidArgumentValueError(
      `${name} must be a whole number from ${opts.min} to ${opts.max}; got ${String(value)}`,
    );
  return value;
}

/** Checks that `value` is one of `allowed`. @throws {InvalidArgumentValueError} naming the option and the allowed values. */
export function enumOption<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new InvalidArgumentValueError(
    `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; got ${JSON.stringify(value) ?? String(value)}`,
  );
}

/** Checks a boolean option. @throws {InvalidArgumentTypeError} naming the option. */
export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidArgumentTypeError(`${name} must be a boolean; got ${typeof value}`);
  return value;
}

/**
 * An optional short text (device name, user agent, IP): null/undefined/'' give null, longer text is cut
 * to `max` UTF-16 code units at a grapheme boundary (never half an emoji, flag or accented letter), and
 * lone surrogates become U+FFFD
 * (these come from clients: a login must not fail over a long or broken User-Agent, and every store
 * must be able to encode the text as UTF-8).
 * @throws {InvalidArgumentTypeError} not a string.
 */
export function optionalText(name: string, value: unknown, max: number): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new InvalidArgumentTypeError(`${name} must be a string; got ${typeof value}`);
  // String.prototype.toWellFormed (ES2024) is in every Node of `engines` (>= 20).
  return (value.length > max ? cutAtGrapheme(value, max) : value).toWellFormed();
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The longest prefix of `text` of at most `max` UTF-16 code units that ends on a grapheme boundary (no half flag or emoji). */
function cutAtGrapheme(text: string, max: number): string {
  let end = 0;
  for (const { index, segment } of graphemes.segment(text.slice(0, max + 32))) {
    if (index + segment.length > max) break;
    end = index + segment.length;
  }
  return text.slice(0, end);
}

/** A scope token as in RFC 6749 §3.3: 1*( %x21 / %x23-5B / %x5D-7E ); here at most 64 characters. */
const SCOPE_RE = /^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

/** True for an RFC 6749 §3.3 scope-token of 1 to 64 characters (the one rule for granted and required scopes). */
export function isScopeToken(value: unknown): value is string {
  return typeof value === 'string' && SCOPE_RE.test(value);
}
/** Most scopes one token may carry. */
export const MAX_SCOPES = 64;

/** Checks scopes (RFC 6749 §3.3 scope-tokens), removing duplicates. @throws TypeError/RangeError naming `scopes`. */
export function scopesOption(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentTypeError('scopes must be an array of strings');
  if (value.length > MAX_SCOPES) throw new InvalidArgumentValueError(`scopes: at most ${MAX_SCOPES} scopes per token`);
  for (const s of value)
    if (!isScopeToken(s))
      throw new InvalidArgumentValueError(
        'scopes: each scope must be 1-64 printable ASCII characters without spaces, `"` or `\\` (RFC 6749 §3.3)',
      );
  return [...new Set(value as string[])];
}

/**
 * Checks app metadata: a plain JSON object whose JSON text is at most `maxBytes` UTF-8 bytes.
 * @returns the JSON text, or null when no metadata was given.
 * @throws {InvalidArgumentTypeError} not a plain object, or not serialisable as JSON.
 * @throws {InvalidArgumentValueError} larger than `maxMetadataBytes`.
 */
export function metadataOption(value: unknown, maxBytes: number): string | null {
  if (value === undefined || value === null) return null;
  if (
    typeof value !== 'object' ||
    Array.isArray(value) ||
    (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
  )
    throw new InvalidArgumentTypeError('metadata must be a plain JSON object');
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    throw new InvalidArgumentTypeError(`metadata must be serialisable as JSON (${(e as Error).message})`);
  }
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > maxBytes)
    throw new InvalidArgumentValueError(
      `metadata is ${bytes} bytes as JSON; the limit is maxMetadataBytes = ${maxBytes}`,
    );
  return json;
}

/** A misspelt option would silently fall back to a default (e.g. `ttl` instead of `ttlSeconds`): refuse it. */
export function rejectUnknownOptions(where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options))
    if (!known.includes(key)) {
      const near = known.find((k) => k.toLowerCase().startsWith(key.toLowerCase().slice(0, 3)));
      throw new InvalidArgumentTypeError(
        `${where}: unknown option \`${key}\`${near ? ` (did you mean \`${near}\`?)` : ''}; known options: ${known.join(', ')}`,
      );
    }
}

/**
 * Checks an `acr` (RFC 9470 authentication context class reference, as the app names it): a
 * scope-token (1-64 printable ASCII characters without spaces, `"` or `\`), so it fits a quoted
 * `acr_values` challenge. @returns it, or null for undefined/null.
 * @throws {InvalidArgumentTypeError} not a string. @throws {InvalidArgumentValueError} not such a token.
 */
export function acrOption(acr: unknown): string | null {
  if (acr === undefined || acr === null) return null;
  if (typeof acr !== 'string') throw new InvalidArgumentTypeError(`acr must be a string; got ${typeof acr}`);
  if (!isScopeToken(acr))
    throw new InvalidArgumentValueError(
      'acr must be 1-64 printable ASCII characters without spaces, `"` or `\\` (it is quoted in WWW-Authenticate acr_values)',
    );
  return acr;
}
