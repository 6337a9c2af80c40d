/** Fixture: the 0.1 Lua scripts (src/stores/redis/scripts.ts at e5a1241, unchanged), to write tokens in the 0.1 layout in upgrade tests. */
import { createHash } from 'node:crypto';
import { LUA_USER_KEY } from './keys.js';

/**
 * The Lua scripts of the Redis store: one script per operation, each one atomic step over one user's
 * keys (one hash slot), the same text for every Redis client. The expiry rules mirror
 * `core/policy.ts` (keep both in step; the conformance suite checks that the stores agree).
 *
 * A token record is one STRING holding a JSON object (Redis's built-in cjson reads and writes it):
 * u user id, k key id, d digest (base64url HMAC), c created ms, l last used ms, e expires ms (absent =
 * immortal), a absolute expiry ms, t per-token TTL ms, n device name, ua user agent, ip, s scopes and
 * m metadata (both as JSON text inside a string, so cjson never rewrites the app's JSON: it would turn
 * `[]` into `{}`). One string instead of a HASH: a HASH with any value over 64 bytes (most User-Agents)
 * leaves the compact listpack encoding and costs about three times the memory.
 */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  /** SHA-1 of `source`, computed once, for EVALSHA. */
  readonly sha: string;
}

function script(name: string, body: string): LuaScript {
  const source = PRELUDE + body;
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

const PRELUDE = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
${LUA_USER_KEY}
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(s)
  if s == nil or s == false or s == '' then return nil end
  return tonumber(s)
end
local function fmt(n) return string.format('%.0f', n) end
-- A token record is one JSON string (one small key per token; see the header of this file).
local function load(key)
  local raw = redis.call('GET', key)
  if not raw then return nil end
  return cjson.decode(raw)
end
-- Writes the record and its key TTL (SET clears the TTL; an absent e means immortal).
local function save(key, r)
  redis.call('SET', key, cjson.encode(r))
  if r.e then redis.call('PEXPIREAT', key, fmt(r.e)) end
end
-- The record as sent back to the client: no key id, no digest.
local function reply_of(r)
  r.k = nil
  r.d = nil
  return cjson.encode(r)
end
-- Throttle of wrong secrets per token id (KEYS[2] is the counter; ARGV[maxi] max failures or '',
-- ARGV[maxi + 1] window ms). Counts only for ids that exist, so garbage creates no keys.
local function throttled(fkey, max)
  return max ~= nil and tonumber(redis.call('GET', fkey) or '0') >= max
end
local function count_failure(fkey, max, window)
  if max == nil then return end
  local n = redis.pcall('INCR', fkey)
  if n == 1 then redis.call('PEXPIRE', fkey, window) end
end
-- true: the digest matches; false: a wrong secret; nil: the record's key is not in this server's ring
-- (a key it does not know yet, or one dropped): not the client's fault, so not counted as a failure.
local function digest_ok(r, argv, from)
  for i = from, #argv, 2 do
    if argv[i] == r.k then return argv[i + 1] == r.d end
  end
  return nil
end
-- Deletes a token's record and its wrong-secret counter. The counter's key is the Lua twin of
-- RedisKeys.failureKey: the token key prefix P{T}:t: with t: replaced by f: (test/stores/redis-store.test.ts checks both agree).
local function delete_token(tprefix, id)
  redis.call('DEL', tprefix .. id, string.sub(tprefix, 1, -3) .. 'f:' .. id)
end
-- Drops the expired members of a user's index (cheap: one ZREMRANGEBYSCORE).
local function drop_expired(idx, now)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', fmt(now))
end
-- The key ids of the ring (a comma-separated ARGV) as a set; tokens signed by other keys can never
-- verify again, so they are not counted as live (they expire, or go with revokeAll).
local function key_set(csv)
  local set = {}
  for kid in string.gmatch(csv, '[^,]+') do set[kid] = true end
  return set
end
-- Drops expired members and members whose record vanished (deleted by hand); returns the live ids:
-- those whose record exists and, when kids is given, was signed by a key of the ring.
local function prune(idx, tprefix, now, kids)
  drop_expired(idx, now)
  local live = {}
  for _, id in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
    if kids == nil then
      if redis.call('EXISTS', tprefix .. id) == 1 then table.insert(live, id) else redis.call('ZREM', idx, id) end
    else
      local r = load(tprefix .. id)
      if r == nil then redis.call('ZREM', idx, id) elseif kids[r.k] then table.insert(live, id) end
    end
  end
  return live
end
-- True when the user has a live token (see prune); drops vanished members met on the way. Reads the
-- index 16 members at a time and stops at the first live one, so it costs O(log n) for a big index.
local function has_live(idx, tprefix, kids)
  local start, gone, found = 0, {}, false
  while not found do
    local batch = redis.call('ZRANGE', idx, start, start + 15)
    if #batch == 0 then break end
    for _, id in ipairs(batch) do
      local r = load(tprefix .. id)
      if r == nil then table.insert(gone, id) elseif kids[r.k] then found = true break end
    end
    start = start + 16
  end
  for _, id in ipairs(gone) do redis.call('ZREM', idx, id) end
  return found
end
-- The index lives as long as its longest-lived member (forever if one is immortal).
local function fix_index_ttl(idx)
  local top = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  if #top == 0 then return end
  local s = tonumber(top[2])
  if s == math.huge then redis.call('PERSIST', idx) else redis.call('PEXPIREAT', idx, fmt(s)) end
end
-- Redis 7 or later: SET ... PXAT and PEXPIREAT ... GT (redis.REDIS_VERSION_NUM is there since 7.0).
local redis7 = redis.REDIS_VERSION_NUM ~= nil and redis.REDIS_VERSION_NUM >= 0x070000
-- Under maxmemory Redis refuses a script's writes only up to its first write: after that it lets them
-- all through (to keep the script atomic). So a script that may add data starts with a write that is
-- refused under OOM and changes nothing; verify, which can do without its writes, makes the record's
-- own SET its first write, under pcall. Any refusal counts, not only OOM: READONLY (a read-only
-- replica: a store pointed at one, or the minutes of a failover), NOREPLICAS (min-replicas-to-write
-- unmet), MISCONF (failing RDB saves).
-- try_save: the record's write as a script's first write: false, with nothing changed, when Redis
-- refuses it. SET clears the TTL; an absent e means immortal.
local function try_save(key, json, e)
  local res
  if e and redis7 then res = redis.pcall('SET', key, json, 'PXAT', fmt(e))
  else res = redis.pcall('SET', key, json) end
  if type(res) == 'table' and res.err ~= nil then return false end
  if e and not redis7 then redis.call('PEXPIREAT', key, fmt(e)) end
  return true
end
-- The index TTL after one member's score changed from old_e to new_e (nil = immortal) by a ZADD whose
-- reply was added (1: the member was missing, so old_e says nothing of the index). The index lives as
-- long as its longest-lived member: when the score only grew on an index whose TTL covered it,
-- PEXPIREAT GT keeps that rule without reading the index; otherwise the top score is read.
local function fix_index_ttl_after(idx, added, old_e, new_e)
  if added == 0 and new_e == nil and old_e == nil then return end
  if added == 0 and new_e == nil then redis.call('PERSIST', idx) return end
  if added == 0 and redis7 and old_e ~= nil and new_e >= old_e then
    redis.call('PEXPIREAT', idx, fmt(new_e), 'GT')
    return
  end
  fix_index_ttl(idx)
end
local function index_score(e)
  if e then return fmt(e) end
  return '+inf'
end
-- core/policy.ts renewedExpiresAtMs
local function renewed_expiry(cur, ttl, overwrite, abs, now)
  local nxt = nil
  if ttl == nil then nxt = nil
  elseif cur == nil and not overwrite then nxt = nil
  else nxt = now + ttl end
  if abs ~= nil then
    if nxt == nil then nxt = abs else nxt = math.min(nxt, abs) end
  end
  return nxt
end
-- core/policy.ts isTouchDue
local function touch_due(last, now, interval, ttl)
  if ttl ~= nil then interval = math.min(interval, math.floor(ttl / 2)) end
  return now - last >= interval
end
`;

/**
 * The prelude's definitions by name (`local function NAME` or `local NAME =`, with the comment lines
 * above it; `header` for the lines that define nothing), in source order. The verify script takes
 * only the ones it uses, so a call does not create two dozen closures it never calls.
 */
const PRELUDE_PARTS: ReadonlyArray<{ name: string; text: string; fn: boolean }> = (() => {
  const parts: { name: string; text: string; fn: boolean }[] = [];
  let pending: string[] = [];
  let open: { name: string; lines: string[] } | null = null;
  for (const line of PRELUDE.split('\n')) {
    if (open) {
      open.lines.push(line);
      if (line === 'end') {
        parts.push({ name: open.name, text: open.lines.join('\n'), fn: true });
        open = null;
      }
      continue;
    }
    const m = /^local function (\w+)|^local (\w+) =/.exec(line);
    if (!m) {
      if (line.startsWith('--') || line.trim() === '') pending.push(line);
      else {
        parts.push({ name: 'header', text: [...pending, line].join('\n'), fn: false });
        pending = [];
      }
      continue;
    }
    const name = (m[1] ?? m[2])!;
    const lines = [...pending, line];
    pending = [];
    if (m[2] !== undefined || /\bend$/.test(line)) parts.push({ name, text: lines.join('\n'), fn: m[1] !== undefined });
    else open = { name, lines };
  }
  if (open) throw new Error(`scripts.ts: the prelude's ${open.name} has no end`);
  return parts;
})();

/** The prelude parts that `body` uses (calls, for a function), directly or through each other, except those in `skip` (in source order). */
function preludeFor(body: string, skip: ReadonlySet<string> = new Set()): string {
  const used = new Set<string>(['header']);
  const scan = (text: string) => {
    for (const p of PRELUDE_PARTS)
      if (
        !used.has(p.name) &&
        !skip.has(p.name) &&
        new RegExp(p.fn ? `\\b${p.name}\\s*\\(` : `\\b${p.name}\\b`).test(text)
      ) {
        used.add(p.name);
        scan(p.text);
      }
  };
  scan(body);
  return `${PRELUDE_PARTS.filter((p) => used.has(p.name))
    .map((p) => p.text)
    .join('\n')}\n`;
}

/**
 * create. KEYS: user index, token record. ARGV: token id, token key prefix, max tokens ('' = none),
 * limit policy, ttl ms ('' = immortal), ttl is override ('1'/'0'), absolute lifetime ms (''), the
 * record's JSON without times (u, k, d, n, ua, ip, s, m), the ring's key ids (comma-separated).
 * Reply: {0, limit} when refused; {1, first, record JSON (no k, d), evicted ids...}.
 *
 * 'evict-lru' ranks by the stored last-used time `l`, written at most once per touch interval (see
 * the README for what that ranking can get wrong). Not used: `OBJECT IDLETIME` of the records, since
 * every login's pruning reads (and so touches) them all.
 */
export const CREATE = script(
  'create',
  `
local idx, key = KEYS[1], KEYS[2]
local id, tprefix = ARGV[1], ARGV[2]
-- A write refused under OOM before anything changes (the new record key does not exist: SET XX is a no-op).
redis.call('SET', key, '', 'XX')
local now = now_ms()
local max = num(ARGV[3])
local kids = key_set(ARGV[9])
local first = 0
local live = {}
if max ~= nil then
  live = prune(idx, tprefix, now, kids)
  if #live == 0 then first = 1 end
else
  drop_expired(idx, now)
  if not has_live(idx, tprefix, kids) then first = 1 end
end
local evicted = {}
if max ~= nil and #live >= max then
  if ARGV[4] == 'reject' then return { 0, max } end
  local byuse = {}
  for _, t in ipairs(live) do
    local r = load(tprefix .. t)
    table.insert(byuse, { t, r.l, r.c, r.l })
  end
  table.sort(byuse, function(x, y)
    if x[2] ~= y[2] then return x[2] < y[2] end
    if x[4] ~= y[4] then return x[4] < y[4] end
    if x[3] ~= y[3] then return x[3] < y[3] end
    return x[1] < y[1]
  end)
  for i = 1, #live - max + 1 do
    delete_token(tprefix, byuse[i][1])
    redis.call('ZREM', idx, byuse[i][1])
    table.insert(evicted, byuse[i][1])
  end
end
local r = cjson.decode(ARGV[8])
local ttl = num(ARGV[5])
local abs = num(ARGV[7])
if abs ~= nil then abs = now + abs end
local e = nil
if ttl ~= nil then e = now + ttl end
if abs ~= nil then
  if e == nil then e = abs else e = math.min(e, abs) end
end
r.c, r.l, r.e, r.a = now, now, e, abs
if ARGV[6] == '1' then r.t = ttl end
save(key, r)
redis.call('ZADD', idx, index_score(e), id)
fix_index_ttl(idx)
local reply = { 1, first, reply_of(r) }
for _, t in ipairs(evicted) do table.insert(reply, t) end
return reply
`,
);

/** The constant part of a verify: the manager's renewal and throttle settings, baked into the script's source. */
export interface VerifyScriptConfig {
  /** Renewal mode: `'off'`, `'token'` or `'user'`. */
  mode: 'off' | 'token' | 'user';
  /** The configured idle TTL in milliseconds, or null (immortal). */
  ttlMs: number | null;
  /** The plugin's OVERWRITE_NONE_TTL. */
  overwriteNoneTtl: boolean;
  /** Least time between two writes of one token, in milliseconds. */
  touchIntervalMs: number;
  /** Wrong secrets tolerated per token id, or null (no throttle). */
  maxFailures: number | null;
  /** The failure window, in milliseconds. */
  failureWindowMs: number;
}

/** A whole number for Lua source (the settings are checked numbers; this guards the script text). */
function luaInt(name: string, n: number): string {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`verify script: ${name} must be a whole number >= 0; got ${String(n)}`);
  return String(n);
}

/**
 * verify, one script per configuration ({@link VerifyScriptConfig} is part of its source, so a call
 * sends only what changes per token; the script is loaded by its SHA like the others).
 * KEYS: token record, failure counter. ARGV: token id, then key id/digest pairs.
 * Reply: {0} not found; {1} digest mismatch; {2, renewed 0/1, record JSON}; {3} throttled. The record
 * JSON is the stored one (with k and d, which the client ignores) unless the call wrote it.
 *
 * Cheap on the common path: a GET of the wrong-secret counter (none without a throttle) and one of the
 * record, one cjson decode, no encode unless a write is due. (Not one MGET for both: the ACL line of
 * docs/deployment.md does not allow MGET, and a deployment using it would fail every verify.) A due write starts with the record's
 * own SET (under `pcall`): when Redis refuses it (out of memory, a read-only replica, ...), nothing has
 * changed and the token verifies without renewal; once it is accepted, Redis lets the script's other
 * writes through. On Redis 7 the record's expiry goes with its SET (`PXAT`) and the user index's TTL
 * is raised with `PEXPIREAT ... GT` instead of being read back with ZRANGE.
 */
export function verifyScript(c: VerifyScriptConfig): LuaScript {
  if (c.mode !== 'off' && c.mode !== 'token' && c.mode !== 'user')
    throw new RangeError(`verify script: unknown renewal mode ${String(c.mode)}`);
  const cfg = c.ttlMs === null ? 'nil' : luaInt('ttlMs', c.ttlMs);
  const maxf = c.maxFailures === null ? null : luaInt('maxFailures', c.maxFailures);
  const read =
    maxf === null
      ? `local raw = redis.call('GET', key)`
      : `if throttled(fkey, ${maxf}) then return { 3 } end
local raw = redis.call('GET', key)`;
  const failed =
    maxf === null
      ? ''
      : `  count_failure(fkey, ${maxf}, ${luaInt('failureWindowMs', c.failureWindowMs)})
`;
  const renew =
    c.mode === 'off'
      ? ''
      : `  local idx = user_key(string.sub(tprefix, 1, -3) .. 'u:', r.u)
${
  c.mode === 'user'
    ? `  for _, t in ipairs(prune(idx, tprefix, now)) do
    if t ~= id then
      local tk = tprefix .. t
      local o = load(tk)
      o.e = renewed_expiry(o.e, o.t or cfg, overwrite, o.a, now)
      save(tk, o)
      redis.call('ZADD', idx, index_score(o.e), t)
    end
  end
  redis.call('ZADD', idx, index_score(r.e), id)
  fix_index_ttl(idx)
`
    : `  fix_index_ttl_after(idx, redis.call('ZADD', idx, index_score(r.e), id), old_e, r.e)
`
}  renewed = 1
`;
  const readBody = `
local key, fkey = KEYS[1], KEYS[2]
local id = ARGV[1]
local cfg, overwrite = ${cfg}, ${c.overwriteNoneTtl ? 'true' : 'false'}
${read}
if not raw then return { 0 } end
local r = cjson.decode(raw)
local ok = digest_ok(r, ARGV, 2)
if ok == nil then return { 0 } end
if not ok then
${failed}  return { 1 }
end
local now = now_ms()
if r.e and r.e <= now then return { 0 } end
if not touch_due(r.l, now, ${luaInt('touchIntervalMs', c.touchIntervalMs)}, r.t or cfg) then return { 2, 0, raw } end
`;
  const writeBody = `
-- A write is due. When Redis refuses writes (out of memory, a read-only replica) the token still
-- verifies; last-used and renewal wait until writes are accepted again.
local tprefix = string.sub(key, 1, #key - #id)
local old_e = r.e
r.l = now
${c.mode === 'off' ? '' : 'r.e = renewed_expiry(r.e, r.t or cfg, overwrite, r.a, now)\n'}local json = cjson.encode(r)
if not try_save(key, json, r.e) then return { 2, 0, raw } end
local renewed = 0
${renew}return { 2, renewed, json }
`;
  // The helpers of the write path are defined after the read path's returns: a verify with nothing to
  // write never creates them.
  const readPrelude = preludeFor(readBody);
  const readNames = new Set(PRELUDE_PARTS.filter((p) => readPrelude.includes(p.text)).map((p) => p.name));
  const source =
    readPrelude + readBody + preludeFor(writeBody, readNames).replace(/^.*replicate_commands.*$/m, '') + writeBody;
  return { name: 'verify', source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * revoke by token (deletes the record and its wrong-secret counter). KEYS: token record, failure counter. ARGV: token id, user key prefix, token key
 * prefix, max failures (''), failure window ms, then key id/digest pairs.
 * Reply: '' when nothing was revoked, else the record JSON (no k, d).
 */
export const REVOKE_TOKEN = script(
  'revokeToken',
  `
local key, fkey = KEYS[1], KEYS[2]
local id, uprefix, tprefix = ARGV[1], ARGV[2], ARGV[3]
local maxf = num(ARGV[4])
if throttled(fkey, maxf) then return '' end
local r = load(key)
if r == nil then return '' end
local ok = digest_ok(r, ARGV, 6)
if ok == nil then return '' end
if not ok then
  count_failure(fkey, maxf, ARGV[5])
  return ''
end
local now = now_ms()
redis.call('DEL', key, fkey)
local idx = user_key(uprefix, r.u)
redis.call('ZREM', idx, id)
drop_expired(idx, now)
fix_index_ttl(idx)
if r.e and r.e <= now then return '' end
return reply_of(r)
`,
);

/** revoke by id. KEYS: user index, token record. ARGV: token id, user id, token key prefix. Reply: 1 revoked, 0 not. */
export const REVOKE_BY_ID = script(
  'revokeById',
  `
local idx, key = KEYS[1], KEYS[2]
local id, uid, tprefix = ARGV[1], ARGV[2], ARGV[3]
local done = 0
local r = load(key)
if r ~= nil and r.u == uid then
  delete_token(tprefix, id)
  redis.call('ZREM', idx, id)
  done = 1
end
drop_expired(idx, now_ms())
fix_index_ttl(idx)
return done
`,
);

/** revoke all. KEYS: user index. ARGV: token key prefix, token id to keep ('' = none). Reply: revoked ids. */
export const REVOKE_ALL = script(
  'revokeAll',
  `
local idx = KEYS[1]
local tprefix, keep = ARGV[1], ARGV[2]
local revoked = {}
for _, t in ipairs(prune(idx, tprefix, now_ms())) do
  if t ~= keep then
    delete_token(tprefix, t)
    redis.call('ZREM', idx, t)
    table.insert(revoked, t)
  end
end
fix_index_ttl(idx)
return revoked
`,
);

/**
 * list. KEYS: user index. ARGV: token key prefix, the ring's key ids (comma-separated). Read-only.
 * Reply: one {id, record JSON} per live token signed by a key of the ring.
 */
export const LIST = script(
  'list',
  `
local idx = KEYS[1]
local tprefix = ARGV[1]
local kids = key_set(ARGV[2])
local out = {}
for _, t in ipairs(redis.call('ZRANGEBYSCORE', idx, '(' .. fmt(now_ms()), '+inf')) do
  local r = load(tprefix .. t)
  if r ~= nil and kids[r.k] then table.insert(out, { t, reply_of(r) }) end
end
return out
`,
);
