/**
 * The demo's user table in SQLite (better-sqlite3), with scrypt password hashes.
 *
 * Hash format: `scrypt$N$r$p$salt$hash` (salt and hash in base64url, 16-byte random salt, 32-byte key).
 * Only the tokens live in redis-multitokens; users are the app's business, as in any real app.
 */
import Database from 'better-sqlite3';
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** A user as the demo shows it (never the password hash). */
export interface User {
  id: number;
  username: string;
}

// scrypt parameters: N = 2^14, r = 8, p = 1 (OWASP's minimum for scrypt is N = 2^17 at r = 8; a demo
// keeps logins fast; raise N in a real app). 128 * N * r = 16 MiB of memory per hash.
const SCRYPT_N = 16384;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const KEY_BYTES = 32;
const SALT_BYTES = 16;

function scrypt(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Hashes a password as `scrypt$N$r$p$salt$hash` (async: scrypt runs on libuv's thread pool, not the event loop). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P);
  return ['scrypt', SCRYPT_N, SCRYPT_R, SCRYPT_P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Checks a password against a stored hash in constant time. A malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  // Bounds keep a tampered row from asking for gigabytes of memory or minutes of CPU.
  if (!Number.isInteger(n) || n < 2 || n > 2 ** 20 || (n & (n - 1)) !== 0) return false;
  if (!Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) return false;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (salt.length === 0 || expected.length !== KEY_BYTES) return false;
  const actual = await scrypt(password, salt, n, r, p);
  return timingSafeEqual(actual, expected);
}

// Checked when the username is unknown, so a login takes as long for a missing user as for a wrong password.
let dummyHash: Promise<string> | undefined;

interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  password_version: number;
}

/** What decides whether a token still stands after password changes (see {@link UserDb.authState}). */
export interface PasswordState {
  /** Bumped by every {@link UserDb.setPassword}; a login stores the one it checked in its token's metadata (`pwv`). */
  passwordVersion: number;
  /** The token id of the device that last changed the password (it stays logged in), or null. */
  passwordChangedBy: string | null;
}

/** The users table. Usernames are unique case-insensitively (`Alice` and `alice` are one account). */
export class UserDb {
  readonly sqlite: Database.Database;
  private readonly byId: Database.Statement<[number], User>;
  private readonly byName: Database.Statement<[string], UserRow>;
  private readonly insert: Database.Statement<[string, string], unknown>;
  private readonly remove: Database.Statement<[number], unknown>;
  private readonly updateHash: Database.Statement<[string, string | null, number], unknown>;
  private readonly stateById: Database.Statement<
    [number],
    { password_version: number; password_changed_by: string | null }
  >;

  /** Opens (and creates if needed) the database at `path`; `':memory:'` for a throwaway one. */
  constructor(path = ':memory:') {
    this.sqlite = new Database(path);
    if (path !== ':memory:') this.sqlite.pragma('journal_mode = WAL');
    this.sqlite.exec(`
      CREATE TABLE IF NOT EXISTS users (
        id            INTEGER PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        password_version    INTEGER NOT NULL DEFAULT 1,
        password_changed_by TEXT
      )`);
    // A database made before password versions: add the columns (every existing user at version 1).
    const columns = new Set((this.sqlite.pragma('table_info(users)') as { name: string }[]).map((c) => c.name));
    if (!columns.has('password_version'))
      this.sqlite.exec('ALTER TABLE users ADD COLUMN password_version INTEGER NOT NULL DEFAULT 1');
    if (!columns.has('password_changed_by')) this.sqlite.exec('ALTER TABLE users ADD COLUMN password_changed_by TEXT');
    this.byId = this.sqlite.prepare('SELECT id, username FROM users WHERE id = ?');
    this.byName = this.sqlite.prepare(
      'SELECT id, username, password_hash, password_version FROM users WHERE username = ?',
    );
    this.stateById = this.sqlite.prepare('SELECT password_version, password_changed_by FROM users WHERE id = ?');
    this.insert = this.sqlite.prepare(
      'INSERT INTO users (username, password_hash, created_at_ms) VALUES (?, ?, unixepoch() * 1000)',
    );
    this.remove = this.sqlite.prepare('DELETE FROM users WHERE id = ?');
    this.updateHash = this.sqlite.prepare(
      'UPDATE users SET password_hash = ?, password_version = password_version + 1, password_changed_by = ? WHERE id = ?',
    );
  }

  /** Creates a user. @returns the user, or null when the username is taken. */
  async createUser(username: string, password: string): Promise<User | null> {
    if (this.byName.get(username)) return null; // skip the hashing work for a taken name
    const hash = await hashPassword(password);
    try {
      const info = this.insert.run(username, hash) as Database.RunResult;
      return { id: Number(info.lastInsertRowid), username };
    } catch (error) {
      // Two registrations of one name at once: the UNIQUE constraint decides.
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return null;
      throw error;
    }
  }

  /**
   * The user with this username and password, or null (unknown user or wrong password, indistinguishably),
   * with the password version of the hash that was checked (read with it, before the slow check).
   */
  async checkCredentials(username: string, password: string): Promise<(User & { passwordVersion: number }) | null> {
    const row = this.byName.get(username);
    if (!row) {
      dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await dummyHash);
      return null;
    }
    return (await verifyPassword(password, row.password_hash))
      ? { id: row.id, username: row.username, passwordVersion: row.password_version }
      : null;
  }

  /** The user with this id, or null. Accepts the token store's string user id. */
  findById(id: number | string): User | null {
    const n = typeof id === 'number' ? id : /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : NaN;
    if (!Number.isSafeInteger(n)) return null;
    return this.byId.get(n) ?? null;
  }

  /** The password version of a user and the device that last changed the password, or null for no such user. */
  authState(id: number): PasswordState | null {
    const row = this.stateById.get(id);
    return row ? { passwordVersion: row.password_version, passwordChangedBy: row.password_changed_by } : null;
  }

  /**
   * Sets a user's password (hashed as at registration) and bumps its password version, so every token
   * made from a login with an older password stops working (even one whose login was in flight); the
   * token `byTokenId` (the device that changed it) is kept. @returns true when the user exists.
   */
  async setPassword(id: number, password: string, byTokenId: string | null = null): Promise<boolean> {
    return (this.updateHash.run(await hashPassword(password), byTokenId, id) as Database.RunResult).changes > 0;
  }

  /** Deletes a user (their tokens then fail with 401 `user_not_found`). @returns true when a row was deleted. */
  deleteUser(id: number): boolean {
    return (this.remove.run(id) as Database.RunResult).changes > 0;
  }

  /** Creates `username` with `password` unless that username exists. @returns true when it was created. */
  async ensureUser(username: string, password: string): Promise<boolean> {
    return (await this.createUser(username, password)) !== null;
  }

  close(): void {
    this.sqlite.close();
  }
}

/** The seeded demo account. */
export const DEMO_USER = { username: 'demo', password: 'demo-password' } as const;
