/**
 * The `Authorization: DPoP <token>` branch of `authenticate` (RFC 9449 §7.1): check the proof without
 * I/O, then verify the token with the proof's thumbprint and `jti` in one store call. Kept apart from
 * the bearer flow, which it joins once the token verified.
 */
import type { DpopRefusal, TokenManager } from '../core/manager.js';
import { parseToken } from '../core/token-format.js';
import type { AuthOptions, AuthOutcome } from './authenticate.js';
import { afterVerify, refuse, verifyFailed } from './authenticate.js';
import { checkDpopProof, dpopChallenge, resolveDpopOptions, type DpopReader } from './dpop.js';
import { DEFAULT_REALM, challenge, type AuthErrorResponse } from './responses.js';

/**
 * The answer for a verify refused by the DPoP check (RFC 9449 §7.1, §7.2): a bound token without the
 * DPoP scheme is `invalid_token` with a DPoP challenge (so the client knows to use DPoP); a wrong key or
 * a replayed proof is `invalid_dpop_proof`; an unbound token under the DPoP scheme is `invalid_token`
 * with a Bearer challenge (it is a bearer token: send it as one).
 */
export function dpopVerifyRefusal<User>(
  reason: DpopRefusal,
  realm: string,
  options: AuthOptions<User>,
): AuthErrorResponse {
  const dpop = resolveDpopOptions(options.dpop);
  switch (reason) {
    case 'dpop_required':
      return dpopChallenge(
        realm,
        'dpop_bound_token',
        'the token is bound to a device key: send "Authorization: DPoP <token>" with a DPoP proof',
        'invalid_token',
        dpop,
      );
    case 'dpop_mismatch':
      return dpopChallenge(
        realm,
        'invalid_dpop_proof',
        'the DPoP proof is not signed by the key the token is bound to',
        'invalid_dpop_proof',
        dpop,
      );
    case 'dpop_replay':
      return dpopChallenge(
        realm,
        'invalid_dpop_proof',
        'the DPoP proof was already used (jti replay): sign a new proof for each request',
        'invalid_dpop_proof',
        dpop,
      );
    case 'dpop_unbound':
      return challenge(
        401,
        realm,
        'dpop_unbound_token',
        'the token is not bound to a device key: send it as "Authorization: Bearer <token>"',
        'invalid_token',
      );
  }
}

/**
 * Authenticates `Authorization: DPoP <token>`: a malformed token or a bad proof is refused with no
 * store call (`authFailed` `malformed` / `dpop_proof`); then one store call checks the token, the
 * bound key and the `jti`. Never throws for bad input; a store outage is a 503 answer.
 */
export async function authenticateDpop<User, R>(
  manager: TokenManager,
  token: string,
  options: AuthOptions<User>,
  req: R,
  reader: DpopReader<R> | undefined,
): Promise<AuthOutcome<User>> {
  const realm = options.realm ?? DEFAULT_REALM;
  const dpop = resolveDpopOptions(options.dpop);
  const parsed = parseToken(token);
  if (!parsed) {
    manager.emit('authFailed', { reason: 'malformed', tokenId: null });
    return refuse(
      dpopChallenge(realm, 'malformed_token', 'the token is not in the expected format', 'invalid_token', dpop),
      options,
    );
  }
  const proof = reader
    ? await checkDpopProof(req, reader, dpop, token)
    : ({ ok: false, description: 'this adapter does not pass DPoP requests on' } as const);
  if (!proof.ok) {
    manager.emit('authFailed', { reason: 'dpop_proof', tokenId: parsed.tokenId });
    return refuse(dpopChallenge(realm, 'invalid_dpop_proof', proof.description, 'invalid_dpop_proof', dpop), options);
  }
  let result: Awaited<ReturnType<TokenManager['verify']>>;
  try {
    result = await manager.verify(token, { dpop: proof.check });
  } catch (error) {
    return verifyFailed(error, options);
  }
  if (!result.valid && (result.reason === 'invalid' || result.reason === 'malformed'))
    return refuse(
      dpopChallenge(realm, 'invalid_token', 'the token is invalid, expired or revoked', 'invalid_token', dpop),
      options,
    );
  return afterVerify(manager, result, options);
}
