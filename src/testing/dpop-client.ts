/**
 * A DPoP client for tests and benchmarks (RFC 9449 §4): a key pair and a `proof()` that signs a
 * `DPoP` header for one request with `jose`. Apps' clients (browsers, mobile apps) do the same with
 * their platform's crypto; see docs/dpop.md.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, type KeyLike } from 'jose';
import { sha256Base64url } from '../http/dpop.js';

/** What {@link DpopClient.proof} may change, to build bad proofs in tests. */
export interface DpopProofOverrides {
  /** Extra or replaced header parameters (e.g. `typ`, `alg`, `jwk`). */
  header?: Record<string, unknown>;
  /** Extra or replaced claims (e.g. `htm`, `htu`, `iat` in SECONDS, `jti`, `ath`); `undefined` drops one. */
  claims?: Record<string, unknown>;
}

/** A device key and the proofs it signs. */
export class DpopClient {
  private constructor(
    /** The algorithm of the key (`ES256`, `EdDSA`, ...). */
    readonly alg: string,
    private readonly privateKey: KeyLike,
    /** The public JWK sent in each proof's header. */
    readonly publicJwk: JWK,
    /** Its JWK SHA-256 thumbprint (RFC 7638, base64url): what a bound token's record holds as `jkt`. */
    readonly jkt: string,
  ) {}

  /** A new key pair. @param alg a JWS algorithm jose can generate keys for (default `ES256`; `EdDSA` gives Ed25519). */
  static async create(alg = 'ES256'): Promise<DpopClient> {
    const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
    const jwk = await exportJWK(publicKey);
    return new DpopClient(alg, privateKey, jwk, await calculateJwkThumbprint(jwk, 'sha256'));
  }

  /**
   * A `DPoP` proof for one request: `typ` `dpop+jwt`, this key's `alg` and public `jwk`; claims `jti`
   * (random), `htm`, `htu` (query and fragment dropped), `iat` (now, in seconds) and, with a token, `ath`.
   */
  async proof(
    method: string,
    url: string,
    accessToken?: string | null,
    overrides: DpopProofOverrides = {},
  ): Promise<string> {
    const u = new URL(url);
    const claims: Record<string, unknown> = {
      jti: randomUUID(),
      htm: method,
      htu: u.origin + u.pathname,
      iat: Math.floor(Date.now() / 1000),
    };
    if (accessToken) claims.ath = sha256Base64url(accessToken);
    for (const [k, v] of Object.entries(overrides.claims ?? {})) {
      if (v === undefined) delete claims[k];
      else claims[k] = v;
    }
    const header = { typ: 'dpop+jwt', alg: this.alg, jwk: this.publicJwk, ...overrides.header };
    return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(this.privateKey);
  }
}
