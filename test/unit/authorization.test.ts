/**
 * parseAuthorization: fixed, named cases and fast-check properties against an oracle written from
 * the documented rules (RFC 6750 §2.1 with the `Token` scheme of the Python plugin).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateToken, parseToken } from '../../src/core/token-format.js';
import {
  MAX_AUTHORIZATION_LENGTH,
  authorizationFromRawHeaders,
  authorizationOfRawHeaders,
  parseAuthorization,
  type AuthorizationParse,
} from '../../src/http/authorization.js';
import { KeyRing } from '../../src/core/key-ring.js';

/** User tags as a TokenManager with this test secret computes them. */
const tagOf = (userId: string) => new KeyRing('tag-secret-tag-secret-tag-secret-0123').userTag(userId);

const TOKEN = generateToken(tagOf('alice')).token;
const KINDS = ['missing', 'malformed', 'token'] as const;

/** The oracle for one header value: the candidate token it must yield, or null when it must not yield one. */
function expectedToken(header: string): string | null {
  const m = /^(bearer|token) +(\S+)$/i.exec(header);
  if (!m || !/^[\x20-\x7e]*$/.test(header) || header.length > 1024) return null;
  return m[2]!.includes(',') ? null : m[2]!;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`property violated: ${what}`);
}

function kindOf(r: AuthorizationParse): string {
  return r.kind;
}

/** Full pipeline at parse level: a header whose candidate token is not in the token format. */
function tokenOrNull(header: string | readonly string[]): string | null {
  const r = parseAuthorization(header);
  return r.kind === 'token' ? r.token : null;
}

describe('parseAuthorization: fixed cases', () => {
  it('missing: undefined, null, no values', () => {
    expect(parseAuthorization(undefined)).toEqual({ kind: 'missing' });
    expect(parseAuthorization(null)).toEqual({ kind: 'missing' });
    expect(parseAuthorization([])).toEqual({ kind: 'missing' });
  });

  it('an empty header value is present and bad, not missing (else optional routes would take it as anonymous)', () => {
    expect(parseAuthorization('')).toEqual({ kind: 'malformed', description: 'empty Authorization header' });
    expect(parseAuthorization([''])).toEqual({ kind: 'malformed', description: 'empty Authorization header' });
    // Whitespace only: malformed here, and empty (so malformed too) after an adapter's trim.
    expect(kindOf(parseAuthorization('   '))).toBe('malformed');
    expect(parseAuthorization(authorizationFromRawHeaders(['Authorization', '   ']))).toEqual({
      kind: 'malformed',
      description: 'empty Authorization header',
    });
  });

  it.each(['Bearer', 'Bearer ', 'Bearer    ', 'Token', 'Token ', 'token  ', 'BEARER'])(
    'empty or missing credential after the scheme: %j',
    (h) => {
      expect(kindOf(parseAuthorization(h))).toBe('malformed');
    },
  );

  it.each([TOKEN, 'rmt_abc', `Bearer${TOKEN}`, `Token${TOKEN}`, `=${TOKEN}`, ' ', '   ', 'x'])(
    'no scheme or no separator: %j',
    (h) => {
      expect(kindOf(parseAuthorization(h))).toBe('malformed');
    },
  );

  it.each([
    'Bearor',
    'Tokens',
    'Basic',
    'Digest',
    'Bearer1',
    'Beare',
    'Toke',
    'Bear-er',
    'Bearer_',
    'OAuth',
    'JWT',
    'Negotiate',
  ])('unknown or near-miss scheme: %s <token>', (scheme) => {
    const r = parseAuthorization(`${scheme} ${TOKEN}`);
    expect(r.kind).toBe('malformed');
    if (r.kind === 'malformed') expect(r.description).toMatch(/scheme/);
  });

  it('Basic with real-looking base64 credentials', () => {
    expect(kindOf(parseAuthorization('Basic dXNlcjpwYXNz'))).toBe('malformed');
  });

  it.each([` Bearer ${TOKEN}`, `  Token ${TOKEN}`, `x Bearer ${TOKEN}`, `, Bearer ${TOKEN}`])(
    'scheme not at the start: %j',
    (h) => {
      expect(kindOf(parseAuthorization(h))).toBe('malformed');
    },
  );

  it.each(['Bearer', 'bearer', 'BEARER', 'bEaReR', 'Token', 'token', 'TOKEN', 'tOkEn'])(
    'case variant of the scheme accepted: %s',
    (scheme) => {
      expect(parseAuthorization(`${scheme} ${TOKEN}`)).toEqual({ kind: 'token', token: TOKEN });
    },
  );

  it.each([1, 2, 3, 10, 100])('%i space(s) between scheme and token accepted', (n) => {
    expect(parseAuthorization(`Bearer${' '.repeat(n)}${TOKEN}`)).toEqual({ kind: 'token', token: TOKEN });
    expect(parseAuthorization(`Token${' '.repeat(n)}${TOKEN}`)).toEqual({ kind: 'token', token: TOKEN });
  });

  it.each([
    ['a tab', `Bearer\t${TOKEN}`],
    ['a space and a tab', `Bearer \t${TOKEN}`],
    ['a non-breaking space', `Bearer\u00a0${TOKEN}`],
    ['a space and a non-breaking space', `Bearer \u00a0${TOKEN}`],
    ['an ideographic space', `Bearer\u3000${TOKEN}`],
    ['a trailing space', `Bearer ${TOKEN} `],
    ['a trailing tab', `Bearer ${TOKEN}\t`],
    ['a trailing newline', `Bearer ${TOKEN}\n`],
    ['CR LF inside', `Bearer ${TOKEN}\r\nX-Evil: 1`],
    ['a NUL byte', `Bearer ${TOKEN}\0`],
    ['DEL', `Bearer ${TOKEN}\x7f`],
  ])('whitespace other than spaces, or control characters, rejected: %s', (_name, h) => {
    expect(kindOf(parseAuthorization(h))).toBe('malformed');
  });

  it.each([
    ['comma-joined, with space', `Bearer ${TOKEN}, Bearer ${TOKEN}`],
    ['comma-joined, no space', `Bearer ${TOKEN},Bearer ${TOKEN}`],
    ['comma-joined tokens', `Bearer ${TOKEN},${TOKEN}`],
    ['trailing comma', `Bearer ${TOKEN},`],
    ['leading comma', `Bearer ,${TOKEN}`],
    ['token and auth-param', `Bearer ${TOKEN}, realm="x"`],
  ])('joined credentials rejected: %s', (_name, h) => {
    expect(kindOf(parseAuthorization(h))).toBe('malformed');
  });

  it('two Authorization header values rejected, even identical or one empty', () => {
    expect(kindOf(parseAuthorization([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]))).toBe('malformed');
    expect(kindOf(parseAuthorization([`Bearer ${TOKEN}`, `Token ${generateToken(tagOf('bob')).token}`]))).toBe(
      'malformed',
    );
    expect(kindOf(parseAuthorization([`Bearer ${TOKEN}`, '']))).toBe('malformed');
    expect(kindOf(parseAuthorization(['', `Bearer ${TOKEN}`]))).toBe('malformed');
    expect(kindOf(parseAuthorization(['a', 'b', 'c']))).toBe('malformed');
    const r = parseAuthorization([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
    if (r.kind === 'malformed') expect(r.description).toMatch(/more than one/);
  });

  it('extra parts after the token rejected', () => {
    expect(kindOf(parseAuthorization(`Bearer ${TOKEN} ${TOKEN}`))).toBe('malformed');
    expect(kindOf(parseAuthorization(`Bearer ${TOKEN} extra`))).toBe('malformed');
    expect(kindOf(parseAuthorization(`Bearer Bearer ${TOKEN}`))).toBe('malformed');
  });

  it('odd and short tokens pass the header parser as candidates, then fail the token format', () => {
    for (const t of [
      'x',
      '1',
      '=',
      'rmt_',
      'rmt_x',
      TOKEN.slice(0, 76),
      'null',
      'undefined',
      '""',
      "'",
      '%00',
      '../../etc/passwd',
      '<script>',
    ]) {
      expect(parseAuthorization(`Bearer ${t}`)).toEqual({ kind: 'token', token: t });
      expect(parseToken(t)).toBeNull();
    }
  });

  it('a doubled token (concatenated) is a candidate of the wrong length; separated, it is two parts', () => {
    expect(tokenOrNull(`Bearer ${TOKEN}${TOKEN}`)).toBe(TOKEN + TOKEN);
    expect(parseToken(TOKEN + TOKEN)).toBeNull();
    expect(kindOf(parseAuthorization(`Bearer ${TOKEN} ${TOKEN}`))).toBe('malformed');
  });

  it('long headers: the limit is 1024 characters, 8 KB and 64 KB are refused unread', () => {
    expect(MAX_AUTHORIZATION_LENGTH).toBe(1024);
    const atLimit = `Bearer ${'a'.repeat(1024 - 7)}`;
    expect(atLimit.length).toBe(1024);
    expect(kindOf(parseAuthorization(atLimit))).toBe('token');
    expect(kindOf(parseAuthorization(`${atLimit}a`))).toBe('malformed');
    for (const size of [8 * 1024, 8 * 1024 + 1, 10 * 1024, 64 * 1024, 1024 * 1024]) {
      const r = parseAuthorization(`Bearer ${'a'.repeat(size)}`);
      expect(r.kind).toBe('malformed');
      if (r.kind === 'malformed') expect(r.description).toMatch(/too long/);
    }
  });

  it.each([
    ['é in the token', `Bearer ${TOKEN.slice(0, 40)}é${TOKEN.slice(41)}`],
    ['emoji', `Bearer ${TOKEN}\u{1F600}`],
    ['a full-width letter', `Bearer Ａ${TOKEN.slice(1)}`],
    ['a non-ASCII scheme (Cyrillic e)', `B\u0435arer ${TOKEN}`],
    [
      'UTF-8 bytes seen as latin1 (how Node decodes raw bytes)',
      `Bearer ${Buffer.from('é', 'utf8').toString('latin1')}${TOKEN}`,
    ],
    ['a lone surrogate', `Bearer ${TOKEN}\uD800`],
    ['a zero-width space', `Bearer \u200b${TOKEN}`],
    ['a BOM', `\uFEFFBearer ${TOKEN}`],
  ])('non-ASCII rejected: %s', (_name, h) => {
    const r = parseAuthorization(h);
    expect(r.kind).toBe('malformed');
    if (r.kind === 'malformed') expect(r.description).toMatch(/ASCII/);
  });

  it.each(['*', '?', '[', ']', '{', '}', ':', '\\', '"', '$', '%', '/'])(
    'a token with %s in it is a candidate the token format rejects',
    (c) => {
      for (const t of [
        c,
        `${TOKEN.slice(0, 30)}${c}${TOKEN.slice(31)}`,
        `${TOKEN.slice(0, 76)}${c}`,
        `{${TOKEN.slice(5, 13)}}`,
        `rmt_*`,
        `${c}${TOKEN}`,
      ]) {
        const r = parseAuthorization(`Bearer ${t}`);
        expect(r).toEqual({ kind: 'token', token: t });
        expect(parseToken(t)).toBeNull();
      }
    },
  );

  it('never throws on values of the wrong type passed by a careless adapter', () => {
    const odd: unknown[] = [0, 1, true, {}, [1], [null], [undefined], [{}], Symbol('x'), new String('Bearer x')];
    for (const v of odd) {
      let r: AuthorizationParse | undefined;
      expect(() => {
        r = parseAuthorization(v as string);
      }).not.toThrow();
      expect(KINDS).toContain(r!.kind);
      expect(r!.kind).not.toBe('token');
    }
  });
});

describe('authorizationFromRawHeaders', () => {
  it('collects every Authorization value, any case of the name, trimmed, in order', () => {
    expect(
      authorizationFromRawHeaders([
        'Host',
        'x',
        'authorization',
        ' Bearer a ',
        'X-Other',
        'y',
        'AUTHORIZATION',
        'Token b',
      ]),
    ).toEqual(['Bearer a', 'Token b']);
    expect(authorizationFromRawHeaders(['Host', 'x'])).toEqual([]);
    expect(authorizationFromRawHeaders([])).toEqual([]);
    expect(authorizationFromRawHeaders(['Authorization'])).toEqual([]);
    expect(authorizationFromRawHeaders(['Proxy-Authorization', 'Bearer a'])).toEqual([]);
  });

  it('authorizationOfRawHeaders (what the adapters use) parses the same as it: a value for one header, the list for several', () => {
    expect(authorizationOfRawHeaders(['Host', 'x', 'authorization', ' Bearer a '])).toBe('Bearer a');
    expect(authorizationOfRawHeaders(['Host', 'x'])).toBeUndefined();
    expect(authorizationOfRawHeaders(['Authorization'])).toBeUndefined();
    expect(
      authorizationOfRawHeaders(['authorization', 'Bearer a', 'AUTHORIZATION', 'Token b', 'Authorization', 'x']),
    ).toEqual(['Bearer a', 'Token b', 'x']);
    const name = fc.constantFrom(
      'Authorization',
      'authorization',
      'AUTHORIZATION',
      'AuThOrIzAtIoN',
      'Authorisation',
      'Authorization ',
      'Host',
      'Proxy-Authorization',
      'X',
    );
    const value = fc.oneof(
      fc.constant(`Bearer ${TOKEN}`),
      fc.constant(` Token ${TOKEN} `),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 5 }), (pairs) => {
        const raw = pairs.flat();
        const all = authorizationFromRawHeaders(raw);
        const got = authorizationOfRawHeaders(raw);
        expect(got).toEqual(all.length === 0 ? undefined : all.length === 1 ? all[0] : all);
        expect(parseAuthorization(got)).toEqual(parseAuthorization(all));
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('parseAuthorization: properties (fast-check, 100,000+ headers per run)', () => {
  const schemes = fc.constantFrom(
    'Bearer',
    'bearer',
    'BEARER',
    'Token',
    'token',
    'TOKEN',
    'bEARER',
    'Bearor',
    'Tokens',
    'Basic',
    'Digest',
    'Bearer1',
    '',
    'B',
    ' Bearer',
    'Bearer,',
  );
  const separators = fc.constantFrom(' ', ' ', ' ', '  ', '     ', '', '\t', '\u00a0', ' \t', ',', ', ', '=', ' , ');
  const tokenLike = fc.oneof(
    fc.constant(TOKEN),
    fc.constant(TOKEN + TOKEN),
    fc.string({ unit: 'grapheme-ascii', maxLength: 90 }),
    fc.string({ unit: 'binary', maxLength: 90 }),
    fc.string({
      unit: fc.constantFrom('a', 'Z', '0', '_', ',', ' ', '*', '?', '[', '{', '}', ':', '\t', '\u00a0', 'é', '='),
      maxLength: 90,
    }),
    fc.nat(80).map((n) => TOKEN.slice(0, n)),
    fc.integer({ min: 900, max: 1100 }).map((n) => 'x'.repeat(n)),
  );
  const suffixes = fc.constantFrom('', '', '', ' ', '\t', ',', ', Bearer x', ' x', '\n', '\u00a0');
  const structured = fc.tuple(schemes, separators, tokenLike, suffixes).map(([s, sep, t, suf]) => s + sep + t + suf);
  // Headers that should mostly be accepted: an accepted scheme in any case, spaces, printable ASCII.
  const acceptedScheme = fc
    .tuple(fc.constantFrom('bearer', 'token'), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }))
    .map(([s, up]) => [...s].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));
  const nearValid = fc
    .tuple(
      acceptedScheme,
      fc.integer({ min: 1, max: 4 }),
      fc.oneof(fc.constant(TOKEN), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 100 })),
    )
    .map(([s, n, t]) => s + ' '.repeat(n) + t);
  const headers = fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t') },
    { weight: 3, arbitrary: structured },
    { weight: 2, arbitrary: nearValid },
    { weight: 1, arbitrary: fc.string({ maxLength: 120 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 120 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 120 }) },
  );

  it('single header values: never throws, one of three kinds, a token exactly when the oracle says so (80,000 runs)', () => {
    const seen = { missing: 0, malformed: 0, token: 0 };
    // Plain checks in the hot loop (vitest's expect costs more than the parser); fast-check reports the failing header.
    fc.assert(
      fc.property(headers, (h) => {
        const r = parseAuthorization(h);
        check(KINDS.includes(r.kind), 'one of the three kinds');
        seen[r.kind]++;
        if (r.kind === 'token') {
          // Only when: matches /^(bearer|token) +\S+$/i, printable ASCII, <= 1024 characters.
          check(/^(bearer|token) +\S+$/i.test(h), 'token only for <scheme> <spaces> <non-space>');
          check(/^[\x20-\x7e]*$/.test(h), 'token only for printable ASCII');
          check(h.length <= 1024, 'token only up to 1024 characters');
          check(r.token.length > 0 && h.endsWith(r.token), 'the token is the end of the header');
        }
        check((r.kind === 'token' ? r.token : null) === expectedToken(h), 'a token exactly when the oracle says so');
        // A string is a header that is present: never "missing".
        check(r.kind !== 'missing', 'a present header is never missing');
      }),
      { numRuns: 80_000 },
    );
    // The generators must reach every outcome, or the property proves little.
    expect(seen.token).toBeGreaterThan(5_000);
    expect(seen.malformed).toBeGreaterThan(20_000);
    expect(seen.missing).toBe(0);
  });

  it('lists of header values: two or more are always malformed; one is as the single value (25,000 runs)', () => {
    fc.assert(
      fc.property(fc.array(headers, { maxLength: 4 }), (list) => {
        const r = parseAuthorization(list);
        check(KINDS.includes(r.kind), 'one of the three kinds');
        if (list.length === 0) check(r.kind === 'missing', 'no values: missing');
        else if (list.length === 1)
          check(JSON.stringify(r) === JSON.stringify(parseAuthorization(list[0]!)), 'one value: as the single value');
        else check(r.kind === 'malformed', 'two or more values: malformed');
      }),
      { numRuns: 25_000 },
    );
  });

  it('no candidate token that passes the header parser reaches the store unless the token format accepts it (5,000 runs)', () => {
    fc.assert(
      fc.property(headers, (h) => {
        const t = tokenOrNull(h);
        if (t !== null && t !== TOKEN) expect(parseToken(t)).toBeNull();
      }),
      { numRuns: 5_000 },
    );
  });
});
