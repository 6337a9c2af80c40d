/**
 * The token format, checked against an independent oracle: the regular expression written out from the
 * documented layout and a CRC-32 from `node:zlib` (not the library's own table), encoded here in base62.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../src/core/errors.js';
import {
  TOKEN_ID_LENGTH,
  TOKEN_LENGTH,
  TOKEN_PREFIX,
  generateToken,
  isTokenId,
  parseToken,
} from '../../src/core/token-format.js';
import { MAX_USER_ID_LENGTH, normalizeUserId } from '../../src/core/user-id.js';
import { KeyRing } from '../../src/core/key-ring.js';
import { BASE62, oracleChecksum } from '../support/oracle.js';

/** HMAC-SHA-256("tag-secret-tag-secret-tag-secret-0123", "user-tag:alice"), first 8 hex digits, from Python's hmac module. */
const KNOWN_ALICE_TAG = 'c4b1589c';
/** User tags as a TokenManager with this test secret computes them. */
const tagOf = (userId: string) => new KeyRing('tag-secret-tag-secret-tag-secret-0123').userTag(userId);

const HEX = '0123456789abcdef';
/** Every character a token may contain anywhere: base62 plus the `_` of the prefix. */
const TOKEN_CHARS = `${BASE62}_`;
/** Documented layout: rmt_ + 8 lower-case hex (user tag) + 16 base62 (random id) + 43 base62 (secret) + 6 base62 (CRC-32). */
const ORACLE_RE = /^rmt_[0-9a-f]{8}[0-9A-Za-z]{16}[0-9A-Za-z]{43}[0-9A-Za-z]{6}$/;

/** The oracle: is `s` a well-formed token (exact layout and a correct checksum)? */
function oracleAccepts(s: unknown): boolean {
  return typeof s === 'string' && ORACLE_RE.test(s) && oracleChecksum(s.slice(0, 71)) === s.slice(71);
}

const charOf = (alphabet: string) => fc.integer({ min: 0, max: alphabet.length - 1 }).map((i) => alphabet[i]!);
const stringOf = (alphabet: string, length: number) =>
  fc.array(charOf(alphabet), { minLength: length, maxLength: length }).map((a) => a.join(''));
/** A token body (everything before the checksum) in the right layout. */
const bodyArb = fc.tuple(stringOf(HEX, 8), stringOf(BASE62, 16 + 43)).map(([tag, rest]) => TOKEN_PREFIX + tag + rest);
/** A well-formed token with a correct checksum, built by the oracle, not by the library. */
const validTokenArb = bodyArb.map((body) => body + oracleChecksum(body));

describe('generateToken', () => {
  it('makes 77-character tokens that start with rmt_ and are all distinct over 10,000', () => {
    expect(TOKEN_LENGTH).toBe(77);
    expect(TOKEN_PREFIX).toBe('rmt_');
    const seen = new Set<string>();
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const g = generateToken(tagOf(String(i % 7)));
      expect(g.token.length).toBe(77);
      expect(g.token.startsWith('rmt_')).toBe(true);
      expect(oracleAccepts(g.token)).toBe(true);
      seen.add(g.token);
      ids.add(g.tokenId);
    }
    expect(seen.size).toBe(10_000);
    expect(ids.size).toBe(10_000);
  });

  it('puts the user tag (8 hex digits of an HMAC of the user id) at the start of the token id', () => {
    const g = generateToken(tagOf('alice'));
    expect(g.userTag).toBe(tagOf('alice'));
    expect(g.userTag).toMatch(/^[0-9a-f]{8}$/);
    expect(g.tokenId.length).toBe(TOKEN_ID_LENGTH);
    expect(g.tokenId.startsWith(g.userTag)).toBe(true);
    expect(g.token.slice(4, 4 + TOKEN_ID_LENGTH)).toBe(g.tokenId);
    expect(isTokenId(g.tokenId)).toBe(true);
    // Known value, computed independently: HMAC-SHA-256("tag-secret-tag-secret-tag-secret-0123", "user-tag:alice").
    expect(tagOf('alice')).toBe(KNOWN_ALICE_TAG);
    // Keyed: another secret gives another tag, and the unkeyed SHA-256 prefix ("2bd806c9") is not used.
    expect(new KeyRing('other-secret-other-secret-other-secret').userTag('alice')).not.toBe(tagOf('alice'));
    expect(tagOf('alice')).not.toBe('2bd806c9');
  });

  it('uses every base62 character in the random parts (no skewed alphabet)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++)
      for (const c of generateToken(tagOf('u')).token.slice(12, 71)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect([...counts.keys()].sort().join('')).toBe([...BASE62].sort().join(''));
    // 118,000 characters over 62 symbols: about 1,903 each; a biased generator (e.g. `% 62` on 256) would be far off.
    for (const n of counts.values()) expect(n).toBeGreaterThan(1600);
    for (const n of counts.values()) expect(n).toBeLessThan(2200);
  });
});

describe('parseToken', () => {
  it('round-trips generated tokens', () => {
    for (let i = 0; i < 1000; i++) {
      const g = generateToken(tagOf(`user-${i}`));
      const p = parseToken(g.token);
      expect(p).toEqual({ token: g.token, tokenId: g.tokenId, userTag: g.userTag });
    }
  });

  it('rejects every single-character substitution, at every position, by any other token character', () => {
    let checked = 0;
    for (let n = 0; n < 20; n++) {
      const { token } = generateToken(tagOf(`sub-${n}`));
      for (let pos = 0; pos < token.length; pos++) {
        for (const c of TOKEN_CHARS) {
          if (c === token[pos]) continue;
          const changed = token.slice(0, pos) + c + token.slice(pos + 1);
          if (parseToken(changed) !== null) throw new Error(`accepted a substitution at ${pos} by ${c}`);
          checked++;
        }
      }
    }
    expect(checked).toBe(20 * 77 * 62);
  });

  it('rejects single-character substitutions by characters outside the alphabet', () => {
    const { token } = generateToken(tagOf('outside'));
    for (let pos = 0; pos < token.length; pos++)
      for (const c of ['-', '.', ' ', '*', '?', '[', '{', '}', ':', ',', '\0', '\t', 'é', '\u{1F600}', 'Ａ'])
        expect(parseToken(token.slice(0, pos) + c + token.slice(pos + 1))).toBeNull();
  });

  it('rejects swaps of two neighbouring characters that differ', () => {
    for (let n = 0; n < 20; n++) {
      const { token } = generateToken(tagOf(`swap-${n}`));
      for (let pos = 0; pos + 1 < token.length; pos++) {
        if (token[pos] === token[pos + 1]) continue;
        const swapped = token.slice(0, pos) + token[pos + 1] + token[pos] + token.slice(pos + 2);
        expect(parseToken(swapped)).toBeNull();
      }
    }
  });

  it('rejects wrong lengths: truncated, extended, doubled, empty', () => {
    const { token } = generateToken(tagOf('len'));
    for (let len = 0; len < token.length; len++) expect(parseToken(token.slice(0, len))).toBeNull();
    for (const c of TOKEN_CHARS) expect(parseToken(token + c)).toBeNull();
    expect(parseToken(token + token)).toBeNull();
    expect(parseToken(token.slice(1))).toBeNull();
    expect(parseToken(` ${token}`)).toBeNull();
    expect(parseToken(`${token} `)).toBeNull();
    expect(parseToken(`${token}\n`)).toBeNull();
    expect(parseToken(token + 'x'.repeat(100_000))).toBeNull();
  });

  it('rejects other prefixes, even with a checksum that matches the changed body', () => {
    const { token } = generateToken(tagOf('prefix'));
    const rest = token.slice(4, 71);
    for (const prefix of ['RMT_', 'rmt-', 'rmt.', 'ghp_', 'xmt_', 'rmt ', 'Rmt_']) {
      const body = prefix + rest;
      expect(parseToken(body + oracleChecksum(body))).toBeNull();
    }
    // And an upper-case user tag is not the format either, checksum or not.
    const upper = `rmt_${token.slice(4, 12).toUpperCase()}${token.slice(12, 71)}`;
    if (upper !== token.slice(0, 71)) expect(parseToken(upper + oracleChecksum(upper))).toBeNull();
  });

  it('rejects non-strings without throwing', () => {
    const { token } = generateToken(tagOf('types'));
    const values: unknown[] = [
      undefined,
      null,
      0,
      77,
      NaN,
      Infinity,
      12345678901234567890n,
      true,
      false,
      {},
      { token },
      { length: 77, toString: () => token },
      [token],
      [],
      Symbol('t'),
      () => token,
      new String(token),
      Buffer.from(token),
      new Date(),
      Object.create(null),
    ];
    for (const v of values) expect(() => parseToken(v)).not.toThrow();
    for (const v of values) expect(parseToken(v)).toBeNull();
  });

  it('never throws and accepts exactly the strings of the documented format (fast-check, 70,000 runs)', () => {
    const mutateArb = fc
      .tuple(validTokenArb, fc.nat(), fc.string({ minLength: 0, maxLength: 3, unit: 'binary' }))
      .map(([t, at, ins]) => {
        const p = at % (t.length + 1);
        return t.slice(0, p) + ins + t.slice(p + ins.length);
      });
    const candidates = fc.oneof(
      fc.string({ maxLength: 100 }),
      fc.string({ maxLength: 100, unit: 'binary' }),
      fc.string({ minLength: 77, maxLength: 77, unit: 'grapheme-ascii' }),
      fc.string({ minLength: 73, maxLength: 73, unit: charOf(TOKEN_CHARS) }).map((s) => `rmt_${s}`),
      bodyArb.map((b) => `${b}AAAAAA`),
      validTokenArb,
      mutateArb,
    );
    let accepted = 0;
    fc.assert(
      fc.property(candidates, (s) => {
        const p = parseToken(s);
        expect(p !== null).toBe(oracleAccepts(s));
        if (p) {
          accepted++;
          expect(p.token).toBe(s);
          expect(p.tokenId).toBe(s.slice(4, 28));
          expect(p.userTag).toBe(s.slice(4, 12));
        }
      }),
      { numRuns: 50_000 },
    );
    // The generators must reach the accepting side too, or the property proves little.
    expect(accepted).toBeGreaterThan(5_000);
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withTypedArray: true,
          withSparseArray: true,
        }),
        (v) => {
          const p = parseToken(v);
          if (typeof v !== 'string') expect(p).toBeNull();
          else expect(p !== null).toBe(oracleAccepts(v));
        },
      ),
      { numRuns: 10_000 },
    );
    fc.assert(
      fc.property(validTokenArb, (t) => {
        expect(parseToken(t)?.token).toBe(t);
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('normalizeUserId', () => {
  it('treats 42, "42" and 42n as one user', () => {
    expect(normalizeUserId(42)).toBe('42');
    expect(normalizeUserId('42')).toBe('42');
    expect(normalizeUserId(42n)).toBe('42');
    expect(tagOf(normalizeUserId(42))).toBe(tagOf(normalizeUserId(42n)));
    expect(normalizeUserId(0)).toBe('0');
    expect(normalizeUserId(-0)).toBe('0');
    expect(normalizeUserId(-7)).toBe('-7');
    expect(normalizeUserId(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991');
    expect(normalizeUserId(2n ** 100n)).toBe('1267650600228229401496703205376');
  });

  it('keeps strings as they are, special characters included', () => {
    for (const s of ['alice', ' a ', 'a:b', '{tag}', '*', '?', '[x]', 'é', '\u{1F600}', 'x'.repeat(MAX_USER_ID_LENGTH)])
      expect(normalizeUserId(s)).toBe(s);
    // "042" is a different string from 42: ids are not parsed as numbers.
    expect(normalizeUserId('042')).not.toBe(normalizeUserId(42));
  });

  const typeErrors: [string, unknown][] = [
    ['NaN', NaN],
    ['1.5', 1.5],
    ['Infinity', Infinity],
    ['an unsafe integer', 2 ** 53],
    ['null', null],
    ['undefined', undefined],
    ['an object', { id: 42 }],
    ['an array', [42]],
    ['a boolean', true],
    ['a symbol', Symbol('u')],
    ['a function', () => 42],
    ['a String object', new String('42')],
  ];
  it.each(typeErrors)(
    'rejects %s with InvalidArgumentTypeError (a TypeError with code ERR_INVALID_ARG_TYPE)',
    (_name, value) => {
      const error = errorOf(() => normalizeUserId(value));
      expect(error).toBeInstanceOf(InvalidArgumentTypeError);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as { code?: string }).code).toBe('ERR_INVALID_ARG_TYPE');
    },
  );

  const valueErrors: [string, unknown][] = [
    ['the empty string', ''],
    ['a string longer than 256 characters', 'x'.repeat(MAX_USER_ID_LENGTH + 1)],
    ['a lone high surrogate', 'a\uD800'],
    ['a lone low surrogate', '\uDC00b'],
    ['reversed surrogates', '\uDE00\uD83D'],
  ];
  it.each(valueErrors)(
    'rejects %s with InvalidArgumentValueError (a RangeError with code ERR_INVALID_ARG_VALUE)',
    (_name, value) => {
      const error = errorOf(() => normalizeUserId(value));
      expect(error).toBeInstanceOf(InvalidArgumentValueError);
      expect(error).toBeInstanceOf(RangeError);
      expect((error as { code?: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    },
  );

  it('never throws anything but its two typed errors (fast-check, 10,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything({ withBigInt: true }),
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.double(),
          fc.bigInt(),
        ),
        (v) => {
          try {
            const id = normalizeUserId(v);
            expect(typeof id).toBe('string');
            expect(id.length).toBeGreaterThan(0);
          } catch (e) {
            expect(e instanceof InvalidArgumentTypeError || e instanceof InvalidArgumentValueError).toBe(true);
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

/** What `fn` throws (undefined when it returns). */
function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
