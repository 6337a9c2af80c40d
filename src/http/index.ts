/**
 * `redis-multitokens/http`: framework-free pieces every adapter uses (header parsing, the
 * authenticate flow, scope and step-up (RFC 9470) requirements, device details, DPoP proofs (RFC 9449), and the 400/401/403/503 answers, including
 * the answer for any error the library throws). Write an adapter for another framework with these.
 * @packageDocumentation
 */
export {
  parseAuthorization,
  authorizationFromRawHeaders,
  MAX_AUTHORIZATION_LENGTH,
  AUTH_SCHEMES,
  type AuthorizationParse,
} from './authorization.js';
export { authenticate, checkAuthOptions, type AuthOptions, type AuthOutcome, type TokenAuth } from './authenticate.js';
export { checkScopeList, checkScopes, checkRealm, scopeRequirement, type ScopeRequirementOptions } from './scopes.js';
export {
  checkStepUp,
  checkStepUpRule,
  insufficientUserAuthentication,
  stepUpRequirement,
  type StepUpAuth,
  type StepUpRule,
  type StepUpRequirementOptions,
} from './step-up.js';
export {
  applyErrorBody,
  checkErrorHandlerOptions,
  errorBodyJson,
  ERROR_BODY_CONTENT_TYPE,
  authenticationRequired,
  challenge,
  errorResponse,
  storeUnavailableResponse,
  unavailable,
  DEFAULT_REALM,
  type AuthErrorBody,
  type AuthErrorReason,
  type AuthErrorResponse,
  type ErrorBodyFormatter,
  type ErrorHandlerOptions,
  type HttpErrorResponse,
} from './responses.js';
export { displayIp, deviceDetails, type DeviceDetails } from './client.js';
export {
  checkDpopProof,
  dpopChallenge,
  dpopHeaderValue,
  dpopKeyOf,
  resolveDpopOptions,
  sha256Base64url,
  DEFAULT_DPOP_ALGORITHMS,
  DEFAULT_DPOP_PROOF_WINDOW_SECONDS,
  DPOP_CLOCK_SKEW_ALLOWANCE_SECONDS,
  dpopReplayWindowMs,
  MAX_DPOP_PROOF_LENGTH,
  type DpopOptions,
  type DpopProofCheck,
  type DpopReader,
  type ResolvedDpopSettings,
} from './dpop.js';
export { dpopVerifyRefusal } from './dpop-authenticate.js';
export { RETRY_AFTER_SECONDS, isRedisMultitokensError, errorKinds } from '../core/errors.js';
export type { Register, RegisteredUser } from '../core/register.js';
