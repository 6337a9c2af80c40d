/**
 * `redis-multitokens/http`: framework-free pieces every adapter uses (header parsing, the
 * authenticate flow, and the 401/403/503 answers). Write an adapter for another framework with these.
 * @packageDocumentation
 */
export { parseAuthorization, authorizationFromRawHeaders, MAX_AUTHORIZATION_LENGTH, AUTH_SCHEMES, type AuthorizationParse } from './authorization.js';
export {
  authenticate,
  authenticationRequired,
  checkAuthOptions,
  checkScopeList,
  checkScopes,
  unavailable,
  RETRY_AFTER_SECONDS,
  type AuthOptions,
  type AuthOutcome,
  type AuthErrorResponse,
  type AuthErrorReason,
  type TokenAuth,
} from './authenticate.js';
export { displayIp } from './client.js';
