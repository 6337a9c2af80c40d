/**
 * DPoP (RFC 9449) pieces of the HTTP layer without a framework: option checks, the `htu` check with an
 * `origin` set behind a proxy, and `checkDpopProof`'s answers (the adapters' behaviour is the contract
 * suite's DPoP cases, run against every adapter).
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../src/index.js';
import {
  DPOP_CLOCK_SKEW_ALLOWANCE_SECONDS,
  checkAuthOptions,
  checkDpopProof,
  dpopReplayWindowMs,
  resolveDpopOptions,
  type DpopReader,
} from '../../src/http/index.js';
import { TokenManager } from '../../src/index.js';
import { DpopClient } from '../../src/testing/index.js';

interface Req {
  proof?: string;
  method: string;
  origin: string;
  path: string;
}
const reader: DpopReader<Req> = {
  proof: (r) => r.proof,
  method: (r) => r.method,
  origin: (r) => r.origin,
  path: (r) => r.path,
};

describe('dpop options', () => {
  it('defaults: ES256 EdDSA ES384 PS256 RS256, 60 seconds, origin from the request', () => {
    const o = resolveDpopOptions(undefined);
    expect(o.algsParam).toBe('algs="ES256 EdDSA ES384 PS256 RS256"');
    expect(o.windowSeconds).toBe(60);
    expect(o.origin).toBeNull();
  });

  it.each([
    ['an origin with a path', { origin: 'https://api.example.com/v1' }, InvalidArgumentValueError],
    ['a relative origin', { origin: 'api.example.com' }, InvalidArgumentValueError],
    ['an ftp origin', { origin: 'ftp://api.example.com' }, InvalidArgumentValueError],
    ['HS256 (a MAC)', { algorithms: ['HS256'] }, InvalidArgumentValueError],
    ['none', { algorithms: ['none'] }, InvalidArgumentValueError],
    ['no algorithm', { algorithms: [] }, InvalidArgumentValueError],
    ['a window of 0 seconds', { proofWindowSeconds: 0 }, InvalidArgumentValueError],
    ['a window over 600 seconds', { proofWindowSeconds: 601 }, InvalidArgumentValueError],
    ['a fractional window', { proofWindowSeconds: 1.5 }, InvalidArgumentValueError],
    ['an unknown option', { orign: 'https://api.example.com' }, InvalidArgumentTypeError],
  ])("refuses %s, also through the adapters' checkAuthOptions", (_name, options, error) => {
    expect(() => resolveDpopOptions(options as never)).toThrow(error);
    const manager = new TokenManager({ secret: 's'.repeat(32) });
    expect(() => checkAuthOptions(manager, { dpop: options as never })).toThrow(error);
  });

  it('accepts an origin with a trailing slash and normalises its case and default port', () => {
    expect(resolveDpopOptions({ origin: 'https://api.example.com/' }).origin).toBe('https://api.example.com');
    expect(resolveDpopOptions({ origin: 'https://API.example.com:443' }).origin).toBe('https://api.example.com');
  });
});

describe('the jti replay window', () => {
  it('is twice the proof window plus the clock-skew allowance between app servers (60 s), for every window', async () => {
    expect(DPOP_CLOCK_SKEW_ALLOWANCE_SECONDS).toBe(60);
    expect(dpopReplayWindowMs(60)).toBe(180_000);
    expect(dpopReplayWindowMs(1)).toBe(62_000);
    expect(dpopReplayWindowMs(600)).toBe(1_260_000);
    // A proof whose iat is at the edge of one server's window must still be remembered when a server
    // whose clock is the whole allowance behind accepts its iat: first use at iat - window (server A
    // ahead), last acceptance at iat + window + skew (server B behind).
    const device = await DpopClient.create('ES256');
    for (const w of [1, 60, 600]) {
      const r = await checkDpopProof(
        {
          method: 'GET',
          origin: 'https://a.example',
          path: '/me',
          proof: await device.proof('GET', 'https://a.example/me', 't'),
        },
        reader,
        resolveDpopOptions({ proofWindowSeconds: w }),
        't',
      );
      expect(r.ok && r.check.replayWindowMs).toBe((2 * w + 60) * 1000);
    }
  });
});

describe('checkDpopProof', () => {
  it('behind a proxy: htu is checked against `origin`, not the address the server saw', async () => {
    const device = await DpopClient.create('ES256');
    const token = 'a-token';
    const behind = { method: 'GET', origin: 'http://10.0.0.5:3000', path: '/me?x=1' };
    const options = resolveDpopOptions({ origin: 'https://api.example.com' });
    const publicProof = await device.proof('GET', 'https://api.example.com/me', token);
    const ok = await checkDpopProof({ ...behind, proof: publicProof }, reader, options, token);
    expect(ok).toMatchObject({ ok: true, check: { jkt: device.jkt, replayWindowMs: 180_000 } });
    const internalProof = await device.proof('GET', 'http://10.0.0.5:3000/me', token);
    expect(await checkDpopProof({ ...behind, proof: internalProof }, reader, options, token)).toEqual({
      ok: false,
      description: "the DPoP proof's htu does not match the request URL",
    });
    // Without the option, the request's own origin counts.
    expect(
      (await checkDpopProof({ ...behind, proof: internalProof }, reader, resolveDpopOptions(undefined), token)).ok,
    ).toBe(true);
  });

  it('htu: scheme and host case and the default port do not matter; the path does (RFC 9449 §4.3)', async () => {
    const device = await DpopClient.create('EdDSA');
    const req = { method: 'POST', origin: 'https://api.example.com', path: '/login' };
    const options = resolveDpopOptions(undefined);
    const passes = async (htu: string) =>
      (
        await checkDpopProof(
          { ...req, proof: await device.proof('POST', 'https://api.example.com/login', null, { claims: { htu } }) },
          reader,
          options,
          null,
        )
      ).ok;
    for (const htu of [
      'https://API.Example.com/login',
      'https://api.example.com:443/login',
      'https://api.example.com/login?next=/',
      'https://api.example.com/login#top',
    ])
      expect(await passes(htu), htu).toBe(true);
    for (const htu of [
      'https://api.example.com/login/',
      'https://api.example.com/Login',
      'https://api.example.com:8443/login',
      'not a url',
    ])
      expect(await passes(htu), htu).toBe(false);
  });

  it('iat: accepted within the window either way, refused outside it', async () => {
    const device = await DpopClient.create('ES256');
    const req = { method: 'GET', origin: 'https://a.example', path: '/' };
    const options = resolveDpopOptions({ proofWindowSeconds: 5 });
    const now = Math.floor(Date.now() / 1000);
    const at = async (iat: number) =>
      (
        await checkDpopProof(
          { ...req, proof: await device.proof('GET', 'https://a.example/', null, { claims: { iat } }) },
          reader,
          options,
          null,
        )
      ).ok;
    expect([await at(now - 4), await at(now + 4), await at(now - 7), await at(now + 7)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
});
