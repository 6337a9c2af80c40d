/**
 * The hand-written baseline both frameworks use: a random 32-byte bearer token, stored in Redis under
 * the hex SHA-256 of the token; a request costs one SHA-256 and one GET. No renewal, no device limit,
 * no lockout: the least any Redis-backed bearer check can do.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { HTTP_USER } from './variant.js';

const keyOf = (token: string) => `hand:${createHash('sha256').update(token).digest('hex')}`;

/** Stores a new token for {@link HTTP_USER} and returns it. */
export async function issueHandToken(redis: Redis): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await redis.set(keyOf(token), JSON.stringify({ userId: HTTP_USER }), 'EX', 3600);
  return token;
}

/** The user of an `Authorization: Bearer <token>` header, or null. */
export async function handAuthenticate(redis: Redis, header: string | undefined): Promise<{ userId: string } | null> {
  if (!header?.startsWith('Bearer ')) return null;
  const raw = await redis.get(keyOf(header.slice(7)));
  return raw === null ? null : (JSON.parse(raw) as { userId: string });
}
