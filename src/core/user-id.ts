import { InvalidArgumentTypeError, InvalidArgumentValueError } from './errors.js';

/** What the API accepts as a user id: a non-empty string, a safe integer, or a bigint. */
export type UserIdInput = string | number | bigint;

/** Longest accepted user id, in UTF-16 code units. */
export const MAX_USER_ID_LENGTH = 256;

/**
 * Normalises a user id to the string the store keys on. `42`, `42n` and `"42"` are one user.
 * Strings may hold any well-formed Unicode, including `:`, `{`, `}`, `*` and spaces: stores encode
 * them (the Redis store as hex), so no two ids collide.
 *
 * @throws {InvalidArgumentTypeError} not a string, number or bigint; a number that is not a safe integer.
 * @throws {InvalidArgumentValueError} an empty string, one longer than 256 characters (a bigint too), or one with lone surrogates.
 */
export function normalizeUserId(userId: unknown): string {
  if (typeof userId === 'string') {
    if (userId.length === 0) throw new InvalidArgumentValueError('userId must not be an empty string');
    if (userId.length > MAX_USER_ID_LENGTH)
      throw new InvalidArgumentValueError(`userId must be at most ${MAX_USER_ID_LENGTH} characters long`);
    // String.prototype.isWellFormed (ES2024) is in every Node of `engines` (>= 20).
    if (!userId.isWellFormed())
      throw new InvalidArgumentValueError('userId must be well-formed Unicode (no lone surrogates)');
    return userId;
  }
  if (typeof userId === 'number') {
    if (!Number.isSafeInteger(userId))
      throw new InvalidArgumentTypeError(
        'userId must be a string or a safe integer; got a non-integral or unsafe number',
      );
    return String(userId);
  }
  if (typeof userId === 'bigint') return normalizeUserId(userId.toString());
  throw new InvalidArgumentTypeError(
    `userId must be a string, a safe integer or a bigint; got ${userId === null ? 'null' : typeof userId}`,
  );
}
