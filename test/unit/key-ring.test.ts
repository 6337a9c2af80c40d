import { describe, expect, it } from 'vitest';
import { KeyRing, digestsEqual } from '../../src/core/key-ring.js';

describe('digestsEqual (constant-time compare)', () => {
  it('is true only for equal strings', () => {
    const d = new KeyRing('k'.repeat(32)).sign('rmt_x').digest;
    expect(digestsEqual(d, d)).toBe(true);
    expect(digestsEqual(d, d.slice(0, -1) + (d.endsWith('A') ? 'B' : 'A'))).toBe(false);
    expect(digestsEqual(d, d.slice(0, 10))).toBe(false);
    expect(digestsEqual('', '')).toBe(true);
  });
  it('returns false, never throws, for wrong types', () => {
    for (const bad of [undefined, null, 42, {}, [], Buffer.from('x')]) {
      expect(digestsEqual(bad, 'x')).toBe(false);
      expect(digestsEqual('x', bad)).toBe(false);
    }
  });
});

describe('KeyRing', () => {
  it('signs with the first key and digests with all, as base64url HMAC-SHA-256 (known answer)', () => {
    // RFC 4231 case 1's 20-byte key is below our 32-byte minimum; the same message under 32 x 0x0b, with
    // the answer computed independently (Python's hmac module).
    const ring = new KeyRing(
      [
        { id: 'new', secret: Buffer.alloc(32, 0x0b) },
        { id: 'old', secret: 'o'.repeat(32) },
      ],
      't'.repeat(32),
    );
    expect(ring.currentKeyId).toBe('new');
    const signed = ring.sign('Hi There');
    expect(Buffer.from(signed.digest, 'base64url').toString('hex')).toBe(
      '198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7',
    );
    expect(ring.digestsOf('Hi There').map((d) => d.keyId)).toEqual(['new', 'old']);
    expect(ring.digestsOf('Hi There')[0]).toEqual(signed);
  });
});

describe('KeyRing.userTag', () => {
  it('is keyed: 8 hex digits of HMAC-SHA-256(userTagSecret, "user-tag:" + id), stable across rotation when userTagSecret is', () => {
    const single = new KeyRing('s'.repeat(32));
    const ring = new KeyRing(
      [
        { id: 'k2', secret: 'n'.repeat(32) },
        { id: 'k1', secret: 's'.repeat(32) },
      ],
      's'.repeat(32),
    );
    expect(single.userTag('42')).toMatch(/^[0-9a-f]{8}$/);
    expect(ring.userTag('42')).toBe(single.userTag('42'));
    expect(new KeyRing('x'.repeat(32)).userTag('42')).not.toBe(single.userTag('42'));
  });
  it('a key ring needs userTagSecret, of at least 32 bytes', () => {
    expect(() => new KeyRing([{ id: 'a', secret: 'a'.repeat(32) }])).toThrow(/userTagSecret/);
    expect(() => new KeyRing([{ id: 'a', secret: 'a'.repeat(32) }], 'short')).toThrow(
      /userTagSecret must be at least 32 bytes/,
    );
  });
});
