import { createHash } from 'node:crypto';
import { LUA_USER_KEY } from './keys.js';

/**
 * The Lua scripts of the Redis store: one script per operation, each one atomic step over one user's
 * keys (one hash slot), the same text for every Redis client. The expiry rules mirror
 * `core/policy.ts` (keep both in step; the conformance suite checks that the stores agree).
 *
 * Token record fields (HASH): u user id, k key id, d digest, c created ms, l last used ms,
 * e expires ms (absent = immortal), a absolute expiry ms, t per-token TTL ms, n device name,
 * ua user agent, ip, s scopes (JSON array), m metadata (JSON).
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
local function to_hash(flat)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end
local function record_reply(id, h)
  local out = { 'i', id }
  for _, f in ipairs({ 'u', 'c', 'l', 'e', 'a', 'n', 'ua', 'ip', 's', 'm' }) do
    if h[f] ~= nil and h[f] ~= false then
      table.insert(out, f)
      table.insert(out, h[f])
    end
  end
  return out
end
local function digest_ok(h, argv, from)
  for i = from, #argv, 2 do
    if argv[i] == h.k then return argv[i + 1] == h.d end
  end
  return false
end
-- Drops expired and vanished members of a user's index; returns the live ids.
local function prune(idx, tprefix, now)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', fmt(now))
  local live = {}
  for _, id in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
    if redis.call('EXISTS', tprefix .. id) == 1 then table.insert(live, id) else redis.call('ZREM', idx, id) end
  end
  return live
end
-- The index lives as long as its longest-lived member (forever if one is immortal).
local function fix_index_ttl(idx)
  local top = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  if #top == 0 then return end
  local s = tonumber(top[2])
  if s == math.huge then redis.call('PERSIST', idx) else redis.call('PEXPIREAT', idx, fmt(s)) end
end
-- Sets a token's expiry (nil = immortal) on its record, its key TTL and its index score.
local function set_expiry(key, idx, id, e)
  if e == nil then
    redis.call('HDEL', key, 'e')
    redis.call('PERSIST', key)
    redis.call('ZADD', idx, '+inf', id)
  else
    redis.call('HSET', key, 'e', fmt(e))
    redis.call('PEXPIREAT', key, fmt(e))
    redis.call('ZADD', idx, fmt(e), id)
  end
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
 * create. KEYS: user index, token record. ARGV: token id, token key prefix, max tokens ('' = none),
 * limit policy, ttl ms ('' = immortal), ttl is override ('1'/'0'), absolute lifetime ms (''), then
 * field/value pairs (u, k, d, n, ua, ip, s, m).
 * Reply: {0, limit} when refused; {1, first, created ms, expires ms|'', absolute ms|'', evicted ids...}.
 */
export const CREATE = script(
  'create',
  `
local idx, key = KEYS[1], KEYS[2]
local id, tprefix = ARGV[1], ARGV[2]
local now = now_ms()
local live = prune(idx, tprefix, now)
local first = 0
if #live == 0 then first = 1 end
local max = num(ARGV[3])
local evicted = {}
if max ~= nil and #live >= max then
  if ARGV[4] == 'reject' then return { 0, max } end
  local byuse = {}
  for _, t in ipairs(live) do
    local f = redis.call('HMGET', tprefix .. t, 'l', 'c')
    table.insert(byuse, { t, tonumber(f[1]) or 0, tonumber(f[2]) or 0 })
  end
  table.sort(byuse, function(x, y)
    if x[2] ~= y[2] then return x[2] < y[2] end
    if x[3] ~= y[3] then return x[3] < y[3] end
    return x[1] < y[1]
  end)
  for i = 1, #live - max + 1 do
    redis.call('DEL', tprefix .. byuse[i][1])
    redis.call('ZREM', idx, byuse[i][1])
    table.insert(evicted, byuse[i][1])
  end
end
local ttl = num(ARGV[5])
local abs = num(ARGV[7])
if abs ~= nil then abs = now + abs end
local e = nil
if ttl ~= nil then e = now + ttl end
if abs ~= nil then
  if e == nil then e = abs else e = math.min(e, abs) end
end
local fields = { 'c', fmt(now), 'l', fmt(now) }
for i = 8, #ARGV, 2 do
  table.insert(fields, ARGV[i])
  table.insert(fields, ARGV[i + 1])
end
if abs ~= nil then table.insert(fields, 'a'); table.insert(fields, fmt(abs)) end
if ARGV[6] == '1' and ttl ~= nil then table.insert(fields, 't'); table.insert(fields, fmt(ttl)) end
redis.call('DEL', key)
redis.call('HSET', key, unpack(fields))
set_expiry(key, idx, id, e)
fix_index_ttl(idx)
local reply = { 1, first, fmt(now), e and fmt(e) or '', abs and fmt(abs) or '' }
for _, t in ipairs(evicted) do table.insert(reply, t) end
return reply
`,
);

/**
 * verify. KEYS: token record. ARGV: token id, user key prefix, token key prefix, renew mode, configured
 * ttl ms ('' = immortal), overwrite none ttl ('1'/'0'), touch interval ms, then key id/digest pairs.
 * Reply: {0} not found; {1} digest mismatch; {2, renewed 0/1, record field pairs}.
 */
export const VERIFY = script(
  'verify',
  `
local key = KEYS[1]
local id, uprefix, tprefix, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local h = to_hash(redis.call('HGETALL', key))
if h.d == nil then return { 0 } end
if not digest_ok(h, ARGV, 8) then return { 1 } end
local now = now_ms()
local e = num(h.e)
if e ~= nil and e <= now then return { 0 } end
local cfg = num(ARGV[5])
local overwrite = ARGV[6] == '1'
local ttl = num(h.t) or cfg
local renewed = 0
if touch_due(tonumber(h.l), now, tonumber(ARGV[7]), ttl) then
  h.l = fmt(now)
  redis.call('HSET', key, 'l', h.l)
  if mode ~= 'off' then
    local idx = user_key(uprefix, h.u)
    local targets = { id }
    if mode == 'user' then targets = prune(idx, tprefix, now) end
    for _, t in ipairs(targets) do
      local tk = tprefix .. t
      local f = redis.call('HMGET', tk, 'e', 'a', 't')
      local ne = renewed_expiry(num(f[1]), num(f[3]) or cfg, overwrite, num(f[2]), now)
      set_expiry(tk, idx, t, ne)
      if t == id then h.e = ne and fmt(ne) or nil end
    end
    fix_index_ttl(idx)
    renewed = 1
  end
end
return { 2, renewed, record_reply(id, h) }
`,
);

/**
 * revoke by token. KEYS: token record. ARGV: token id, user key prefix, token key prefix, then key
 * id/digest pairs. Reply: {} when nothing was revoked, else the record field pairs.
 */
export const REVOKE_TOKEN = script(
  'revokeToken',
  `
local key = KEYS[1]
local id, uprefix, tprefix = ARGV[1], ARGV[2], ARGV[3]
local h = to_hash(redis.call('HGETALL', key))
if h.d == nil or not digest_ok(h, ARGV, 4) then return {} end
local now = now_ms()
local e = num(h.e)
redis.call('DEL', key)
local idx = user_key(uprefix, h.u)
redis.call('ZREM', idx, id)
prune(idx, tprefix, now)
fix_index_ttl(idx)
if e ~= nil and e <= now then return {} end
return record_reply(id, h)
`,
);

/** revoke by id. KEYS: user index, token record. ARGV: token id, user id, token key prefix. Reply: 1 revoked, 0 not. */
export const REVOKE_BY_ID = script(
  'revokeById',
  `
local idx, key = KEYS[1], KEYS[2]
local id, uid, tprefix = ARGV[1], ARGV[2], ARGV[3]
local done = 0
if redis.call('HGET', key, 'u') == uid then
  redis.call('DEL', key)
  redis.call('ZREM', idx, id)
  done = 1
end
prune(idx, tprefix, now_ms())
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
    redis.call('DEL', tprefix .. t)
    redis.call('ZREM', idx, t)
    table.insert(revoked, t)
  end
end
fix_index_ttl(idx)
return revoked
`,
);

/** list. KEYS: user index. ARGV: token key prefix. Read-only. Reply: one record field-pair array per live token. */
export const LIST = script(
  'list',
  `
local idx = KEYS[1]
local tprefix = ARGV[1]
local out = {}
for _, t in ipairs(redis.call('ZRANGEBYSCORE', idx, '(' .. fmt(now_ms()), '+inf')) do
  local h = to_hash(redis.call('HGETALL', tprefix .. t))
  if h.d ~= nil then table.insert(out, record_reply(t, h)) end
end
return out
`,
);
