import { createHash } from 'node:crypto';
import { LUA_USER_KEY } from './keys.js';

/**
 * The Lua scripts of the Redis store: one script per operation, each one atomic step over one user's
 * keys (one hash slot), the same text for every Redis client. The expiry rules mirror
 * `core/policy.ts` (keep both in step; the conformance suite checks that the stores agree).
 *
 * Layout (see keys.ts): every token of a user tag in one HASH `P{T}`, field = token id without its tag.
 * A record is one line of text (so it reaches Node unchanged through any client, and Node decodes it):
 *
 * ```text
 * k,d,c,l,e,a,t,f,w,j,u<US>uid<US>name<US>user agent<US>ip<US>scopes<US>metadata<US>acr
 * ```
 *
 * k key id; d the first 22 characters of the base64url HMAC-SHA-256 digest (132 bits, RFC 2104's "at
 * least half the output"); c creation time, epoch ms in base 36 (8 characters, not 13); l, e, a
 * last use, expiry and absolute expiry as base-36 offsets from c in ms (e empty = immortal, a empty =
 * none); t the token's own TTL in ms, base 36 (empty = the configured one); f the wrong-secret count
 * and w the end of its window (offset from c), both base 36, empty when none; j the DPoP key
 * thumbprint of a bound token (RFC 9449; empty = a bearer token); u the last authentication (step-up,
 * RFC 9470) as an offset from c (empty = c); acr its level (empty = none); <US> is the byte 0x1f.
 * Text fields: empty = null; a value that is empty or holds NUL, 0x1e or 0x1f is stored as 0x1e + its JSON;
 * scopes and metadata are JSON text (scopes empty when none). Node's twins: `encodeText`/`parseRecord`
 * in store.ts.
 *
 * Stored (layout 0.2.1). While the hash is small (under 100 fields) and its user has no index, a record
 * is cut in pieces of at most 63 bytes on UTF-8 boundaries, so the hash stays a listpack under Redis's
 * default `hash-max-listpack-value 64` and `hash-max-listpack-entries 128` (about 3 times smaller than a
 * hashtable; a listpack string of up to 63 bytes has a 1-byte header). The first piece, field `<id>`, is
 * a letter `a`-`h` (how many more pieces: 0-7), then the field name of each other piece as 2 base-36
 * digits, then the text. A piece's field name is a small
 * whole number (`0`..`1295`, written in decimal: Redis keeps it in a listpack as a 2-byte integer) that
 * no other field of the hash has when the piece is first written (two users whose tags collide share
 * the hash); a record keeps its names when rewritten. Otherwise a record is stored whole: `0` + its
 * text. Read too: as layout 0.2 was released, a digit `1`-`7` (how many more pieces) + the whole text,
 * the other pieces in fields `<id>1`..`<id>7`; such a record moves to the short names at its next write.
 * A record missing a piece is absent. Node's twins: `pieceFields`/`storedRecordText` in store.ts.
 */
export interface LuaScript {
  /** A name for messages, e.g. `'verify'`. */
  readonly name: string;
  /** The Lua source, sent with EVAL on `NOSCRIPT`. */
  readonly source: string;
  /** SHA-1 of `source`, computed once, for EVALSHA. */
  readonly sha: string;
}

function script(name: string, body: string): LuaScript {
  const source = preludeFor(body) + body;
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/** A user gets an index (a ZSET by expiry) when they hold more than this many tokens; below, scripts read the whole hash. */
export const INDEX_FROM_TOKENS = 32;

/** Characters of the base64url digest kept in a record (22: 132 bits of the 256). */
export const DIGEST_CHARS = 22;

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
-- A whole number in base 36 (a time in ms: 8 characters, not 13).
local function b36(n)
  if n < 0 then return '-' .. b36(-n) end
  local s = ''
  repeat
    local d = n % 36
    s = string.sub('0123456789abcdefghijklmnopqrstuvwxyz', d + 1, d + 1) .. s
    n = (n - d) / 36
  until n == 0
  return s
end
local function n36(s)
  if s == nil or s == '' then return nil end
  if string.byte(s, 1) == 45 then return -tonumber(string.sub(s, 2), 36) end
  return tonumber(s, 36)
end
local function rel36(v, c)
  if v == nil then return '' end
  return b36(v - c)
end
-- A record's text (see the header of scripts.ts) as a table; nil when it is not one.
local function parse(rec)
  local k, d, c, l, e, a, t, f, w, j, u, tail = string.match(rec, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^\\31]*)\\31(.*)$')
  if k == nil then return nil end
  c = tonumber(c, 36)
  if c == nil then return nil end
  local r = { k = k, d = d, c = c, l = c + (n36(l) or 0), t = n36(t), f = n36(f) or 0, tail = tail, raw = rec }
  if j ~= '' then r.j = j end
  u = n36(u)
  if u then r.au = c + u end
  e = n36(e)
  if e then r.e = c + e end
  a = n36(a)
  if a then r.a = c + a end
  w = n36(w)
  if w then r.w = c + w end
  return r
end
local function encode(r)
  local c, f, w = r.c, '', ''
  if r.f and r.f > 0 and r.w then f, w = b36(r.f), b36(r.w - c) end
  local t = ''
  if r.t then t = b36(r.t) end
  return r.k .. ',' .. r.d .. ',' .. b36(c) .. ',' .. b36(r.l - c) .. ',' .. rel36(r.e, c) .. ',' .. rel36(r.a, c) .. ',' .. t .. ',' .. f .. ',' .. w .. ',' .. (r.j or '') .. ',' .. rel36(r.au, c) .. '\\31' .. r.tail
end
-- A text field of the record's tail: '' = null; empty or holding NUL, 0x1e or 0x1f: 0x1e + JSON (store.ts encodeText is its twin).
local function enc(v)
  if v == nil or v == cjson.null then return '' end
  if v == '' or string.find(v, '[%z\\30\\31]') then return '\\30' .. cjson.encode(v) end
  return v
end
-- The user id a record belongs to (the first field of its tail).
local function uid_of(r)
  local eu = string.match(r.tail, '^[^\\31]*')
  if string.byte(eu, 1) == 30 then return cjson.decode(string.sub(eu, 2)) end
  return eu
end
-- True when record r belongs to the user whose encoded id is eu (tags of two users may collide).
local function owns(r, eu) return string.sub(r.tail, 1, #eu + 1) == eu .. '\\31' end
-- Stored form (see the header): the first piece, field <id>, is a letter a-h (how many more pieces,
-- 0-7), their field names (small integers, unique in the hash) as 2 base-36 digits each, then the
-- text; or a digit 0-7 and the text, the other pieces in fields <id>1..<id>7 (layout 0.2 as released,
-- read until the record's next write; and whole records, digit 0).
-- The field names of the pieces a stored first piece v of token id announces, where its text starts
-- and whether they are short names (0.2.1); nil when v is not a record's first piece.
local function piece_names(id, v)
  local b, names = string.byte(v, 1), {}
  if b == nil then return nil end
  if b >= 97 and b <= 104 then
    for i = 1, b - 97 do
      local n = tonumber(string.sub(v, 2 * i, 2 * i + 1), 36)
      if n == nil then return nil end
      names[i] = tostring(n)
    end
    return names, 2 * (b - 97) + 2, true
  end
  if b < 48 or b > 55 then return nil end
  for i = 1, b - 48 do names[i] = id .. i end
  return names, 2, false
end
-- The text of a record from its stored first piece v (piece_names(id, v) gave names and at) and the
-- values of its pieces (more[i] of names[i]); nil when a piece is missing.
local function joined(v, at, names, more)
  local parts = { string.sub(v, at) }
  for i = 1, #names do
    if not more[i] then return nil end
    parts[i + 1] = more[i]
  end
  return table.concat(parts)
end
-- Record text s cut in pieces of at most 63 bytes (a listpack string up to 63 bytes has a 1-byte
-- header) on UTF-8 boundaries, the first leaving room for its header (a letter, 2 characters per other
-- piece); nil when s needs more than 8.
local function cut(s)
  local len = #s
  for n = 0, 7 do
    local out, pos, room = {}, 1, 62 - 2 * n
    while pos <= len and #out <= n do
      local c = pos + room - 1
      if c >= len then
        c = len
      else
        while c > pos do
          local b = string.byte(s, c + 1)
          if b < 128 or b >= 192 then break end
          c = c - 1
        end
      end
      out[#out + 1] = string.sub(s, pos, c)
      pos, room = c + 1, 63
    end
    if pos > len then return out end
  end
  return nil
end
-- n field names for the pieces of token id in hash h: the record's own (own: the names its stored
-- pieces have now) first, then small integers that are neither a field of the hash (tags collide: two
-- users may share the hash) nor announced by any record's first piece (a piece deleted by hand leaves
-- its name announced: giving it to another record would splice that record's bytes into the broken
-- one), probed from a start taken from the id; nil when none is free. Reads the hash (HGETALL, under
-- 100 fields here) only when the record needs a name it does not have.
local function piece_fields(h, id, n, own)
  local out, taken = {}, {}
  for _, f in ipairs(own or {}) do
    if #out < n and #f <= 4 then out[#out + 1], taken[f] = f, true end
  end
  if #out >= n then return out end
  local flat = redis.call('HGETALL', h)
  for i = 1, #flat, 2 do
    local f = flat[i]
    taken[f] = true
    if #f == 16 then
      for _, p in ipairs(piece_names(f, flat[i + 1]) or {}) do taken[p] = true end
    end
  end
  local start = (string.byte(id, 1) * 31 + string.byte(id, 2)) % 128
  for i = 0, 1295 do
    if #out >= n then return out end
    local f = tostring((start + i) % 1296)
    if not taken[f] then out[#out + 1], taken[f] = f, true end
  end
  if #out >= n then return out end
  return nil
end
-- Writes record r of token id into hash h and returns its text (whole: never cut in pieces, for users
-- with an index; old_n is unused: r.names, set by load and scan, says which pieces the record has now).
-- guard: the script's first write, under pcall: false, with nothing changed, when Redis refuses it.
-- Under maxmemory Redis refuses a script's writes only up to its first write, then lets them all
-- through (to keep the script atomic); any refusal counts, not only OOM: READONLY (a replica, or the
-- minutes of a failover), NOREPLICAS, MISCONF.
local function save(h, id, r, old_n, guard, whole)
  local rec = encode(r)
  local ps, names = nil, {}
  if not whole and #rec < 512 and redis.call('HLEN', h) < 100 then
    ps = cut(rec)
    if ps then names = piece_fields(h, id, #ps - 1, r.names) end
    if names == nil then ps, names = nil, {} end
  end
  local args = { h, id, '0' .. rec }
  if ps then
    local head = { string.char(96 + #ps) }
    for i, f in ipairs(names) do
      local d = b36(tonumber(f))
      if #d < 2 then d = '0' .. d end
      head[i + 1] = d
      args[#args + 1] = f
      args[#args + 1] = ps[i + 1]
    end
    args[3] = table.concat(head) .. ps[1]
  end
  if guard then
    local res = redis.pcall('HSET', unpack(args))
    if type(res) == 'table' and res.err ~= nil then return false end
  else
    redis.call('HSET', unpack(args))
  end
  -- The record's former pieces it no longer uses (fewer pieces now, or the names of 0.2 as released).
  local used, gone = {}, {}
  for _, f in ipairs(names) do used[f] = true end
  for _, f in ipairs(r.names or {}) do
    if not used[f] then gone[#gone + 1] = f end
  end
  if #gone > 0 then redis.call('HDEL', h, unpack(gone)) end
  r.n, r.names, r.raw = #names, names, rec
  return rec
end
-- The record of token id in hash h, or nil (missing, a piece missing, or not readable: edited by hand).
local function load(h, id)
  local v = redis.call('HGET', h, id)
  if not v then return nil end
  local names, at = piece_names(id, v)
  if names == nil then return nil end
  local more = {}
  if #names > 0 then more = redis.call('HMGET', h, unpack(names)) end
  local s = joined(v, at, names, more)
  if s == nil then return nil end
  local r = parse(s)
  if r ~= nil then r.n, r.names = #names, names end
  return r
end
-- Deletes the record of token id from hash h with its pieces (all 7 names of 0.2 as released, unless
-- the first piece names its own).
local function drop(h, id)
  local v = redis.call('HGET', h, id)
  local names, _, short = nil, nil, false
  if v then names, _, short = piece_names(id, v) end
  if not short then names = { id .. '1', id .. '2', id .. '3', id .. '4', id .. '5', id .. '6', id .. '7' } end
  redis.call('HDEL', h, id, unpack(names))
end
-- Tells every process's local verify cache that these token ids are gone: one classic PUBLISH (Redis
-- Cluster broadcasts it to every node) on the key prefix's channel P .. 'revoked' (the Lua twin of
-- RedisKeys.revocationChannel: h is P{T}, 10 characters after P), the whole ids space-separated. ids:
-- ids of 16 characters, which get the tag from one table.concat (the tag in the separator and in front
-- of the first id: no loop, no copy of the whole message more, for a revoke-all of a thousand
-- devices); old (optional): 0.1 ids of 24, which have it. Returns the message ('' for none).
local function publish_revoked(h, ids, old)
  local msg = ''
  if #ids > 0 then
    local tag, first = string.sub(h, -9, -2), ids[1]
    ids[1] = tag .. first
    msg = table.concat(ids, ' ' .. tag)
    ids[1] = first
  end
  if old and #old > 0 then
    if msg == '' then msg = table.concat(old, ' ') else msg = table.concat(old, ' ') .. ' ' .. msg end
  end
  if msg ~= '' then redis.call('PUBLISH', string.sub(h, 1, -11) .. 'revoked', msg) end
  return msg
end
-- The mark of a hash that has held live records of two users at once (their user tags collide): its
-- field 'shared', set by the write that first puts a record beside another user's (CREATE, migrate)
-- and kept as long as the hash lives. A hash without it holds records of one user only (expired ones
-- of others aside), so REVOKE_ALL may UNLINK it whole. Costs nothing for the common user's hash.
local function mark(h) redis.call('HSET', h, 'shared', '1') end
local function marked(h) return redis.call('HEXISTS', h, 'shared') == 1 end
-- Deletes hash h when the mark is all it holds (the mark must not keep an emptied hash alive).
local function unmark(h)
  if redis.call('HLEN', h) == 1 and marked(h) then redis.call('DEL', h) end
end
-- Every record of hash h, each with its id (a record missing a piece or unreadable: { id = id, bad = true }).
-- Used only where the user has no index (at most about 32 tokens, unless tags collide).
local function scan(h)
  local flat = redis.call('HGETALL', h)
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  local out = {}
  for f, v in pairs(map) do
    if #f == 16 then
      local names, at = piece_names(f, v)
      local s, r = nil, nil
      if names then
        local more = {}
        for j = 1, #names do more[j] = map[names[j]] or false end
        s = joined(v, at, names, more)
      end
      if s then r = parse(s) end
      if r == nil then r = { id = f, bad = true } else r.id, r.n, r.names = f, #names, names end
      out[#out + 1] = r
    end
  end
  return out
end
-- Index scores: the expiry in ms; immortal tokens after every finite one, by last use.
local function score(r)
  if r.e then return fmt(r.e) end
  return fmt(1e15 + r.l)
end
-- Raises the TTL of key (if it exists) so it covers time e (nil: immortal: no TTL); never lowers it.
local function cover(key, e, now)
  if e == nil then redis.call('PERSIST', key) return end
  local p = redis.call('PTTL', key)
  if p >= 0 and now + p < e then redis.call('PEXPIREAT', key, fmt(e)) end
end
-- Sets the TTL of key to cover exactly the records rs (those without gone = true).
local function fit(key, rs)
  local top = 0
  for _, o in ipairs(rs) do
    if not o.gone then
      if o.e == nil then redis.call('PERSIST', key) return end
      if o.e > top then top = o.e end
    end
  end
  if top > 0 then redis.call('PEXPIREAT', key, fmt(top)) end
end
-- Sets the TTL of hash h to cover exactly its live records (one scan: for a hash left without a TTL).
local function fit_live(h, now)
  local live = {}
  for _, o in ipairs(scan(h)) do
    if not o.bad and not (o.e and o.e <= now) then live[#live + 1] = o end
  end
  fit(h, live)
end
-- Fits the TTL of a user's index to its top score (the user's longest-lived token) and makes the hash's
-- cover it: a hash left without a TTL (an immortal token now gone) is fitted to its live records (one
-- scan, only then: another user of the tag may hold an immortal one), so nothing stays forever.
local function refit(h, idx, now)
  local top = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  if #top == 0 then return end
  local s = tonumber(top[2])
  if s >= 1e15 then
    redis.call('PERSIST', idx)
    redis.call('PERSIST', h)
    return
  end
  redis.call('PEXPIREAT', idx, fmt(s))
  local p = redis.call('PTTL', h)
  if p == -1 then
    fit_live(h, now)
  elseif p >= 0 and now + p < s then
    redis.call('PEXPIREAT', h, fmt(s))
  end
end
-- True when the admin prune drops entry t (score: its score) of index idx of hash h: its record is gone
-- or unreadable, or the entry expired; not when its record expired, which the hash's prune drops with
-- its entry (so stats and prune count it once, in whichever order they meet the two keys).
local function index_stale(h, idx, t, score, now)
  if redis.call('HEXISTS', h, t) == 0 then return true end
  local r = load(h, t)
  if r == nil then return true end
  if r.e and r.e <= now and user_key(h .. ':i:', uid_of(r)) == idx then return false end
  return score <= now
end
-- Rewrites a hash (or a ZSET: zset true) into a fresh key with the same TTL: after mass deletes Redis
-- keeps the big table until enough later commands have moved its entries (incremental rehashing).
local function compact(key, zset)
  local p = redis.call('PTTL', key)
  local flat
  if zset then flat = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES') else flat = redis.call('HGETALL', key) end
  if #flat == 0 then return end
  redis.call('DEL', key)
  for i = 1, #flat, 1000 do
    local args = {}
    for j = i, math.min(i + 998, #flat - 1), 2 do
      if zset then
        args[#args + 1] = flat[j + 1]
        args[#args + 1] = flat[j]
      else
        args[#args + 1] = flat[j]
        args[#args + 1] = flat[j + 1]
      end
    end
    if zset then redis.call('ZADD', key, unpack(args)) else redis.call('HSET', key, unpack(args)) end
  end
  if p > 0 then redis.call('PEXPIRE', key, p) end
end
-- Drops expired tokens: through the user's index when there is one, else every expired record of the
-- hash (whose TTL is then fitted exactly). Returns the scanned live records (nil with an index).
local function tidy(h, idx, now)
  if redis.call('EXISTS', idx) == 1 then
    local gone = redis.call('ZRANGEBYSCORE', idx, '-inf', fmt(now))
    for _, t in ipairs(gone) do drop(h, t) end
    redis.call('ZREMRANGEBYSCORE', idx, '-inf', fmt(now))
    if #gone > 64 and #gone > redis.call('ZCARD', idx) then
      compact(h, false)
      compact(idx, true)
    end
    refit(h, idx, now)
    unmark(h)
    return nil
  end
  local live = {}
  for _, o in ipairs(scan(h)) do
    if o.bad or (o.e and o.e <= now) then
      drop(h, o.id)
      -- A record of another user (tags collide) may be in that user's index: keep it exact.
      if not o.bad then redis.call('ZREM', user_key(h .. ':i:', uid_of(o)), o.id) end
    else
      live[#live + 1] = o
    end
  end
  fit(h, live)
  if #live == 0 then unmark(h) end
  return live
end
-- The key ids of the ring (a comma-separated ARGV) as a set; tokens signed by other keys can never
-- verify again, so they are not counted as live (they expire, or go with revokeAll).
local function key_set(csv)
  local set = {}
  for kid in string.gmatch(csv, '[^,]+') do set[kid] = true end
  return set
end
-- true: the digest matches; false: a wrong secret; nil: the record's key is not in this server's ring
-- (a key it does not know yet, or one dropped): not the client's fault, so not counted as a failure.
local function digest_ok(r, argv, from)
  for i = from, #argv, 2 do
    if argv[i] == r.k then return argv[i + 1] == r.d end
  end
  return nil
end
-- A wrong secret: counted in the record (window from the first failure); never for a 0.1 record read only.
local function count_failure(h, id, r, window)
  if r.ro then return end
  local now = now_ms()
  if r.w == nil or r.w <= now or r.f == 0 then
    r.f, r.w = 1, now + window
  else
    r.f = r.f + 1
  end
  -- A user with an index keeps whole records (its revokeAll deletes them by id, one field each).
  save(h, id, r, r.n, true, redis.call('EXISTS', user_key(h .. ':i:', uid_of(r))) == 1)
end
local function throttled(r, max) return max ~= nil and r.f >= max and r.w ~= nil and r.w > now_ms() end
-- 0.1 layout (see keys.ts): the record P{T}:t:<tag id> (JSON), as a record of this layout with uid
-- and tid set; nil when missing or expired. Its wrong-secret counter P{T}:f:<tag id> comes along.
local function legacy_record(h, id, now)
  local tid = string.sub(h, -9, -2) .. id
  local raw = redis.call('GET', h .. ':t:' .. tid)
  if not raw then return nil end
  local o = cjson.decode(raw)
  if o.e and o.e <= now then return nil end
  local r = { k = o.k, d = string.sub(o.d, 1, 22), c = o.c, l = o.l or o.c, e = o.e, a = o.a, t = o.t, f = 0, uid = o.u, tid = tid,
    j = o.j, au = o.au,
    tail = enc(o.u) .. '\\31' .. enc(o.n) .. '\\31' .. enc(o.ua) .. '\\31' .. enc(o.ip) .. '\\31' .. (o.s or '') .. '\\31' .. (o.m or '') .. '\\31' .. enc(o.acr) }
  local fk = h .. ':f:' .. tid
  local fc = tonumber(redis.call('GET', fk) or '0')
  if fc > 0 then
    local p = redis.call('PTTL', fk)
    if p > 0 then r.f, r.w = fc, now + p end
  end
  return r
end
-- Moves a user's live 0.1 tokens into hash h and deletes their 0.1 keys. guard: Redis may refuse
-- writes (verify): false, with nothing changed, when it does. A hash that held anything before gets
-- the mark (see mark): another user's records may be there, and this does not read them.
local function migrate(h, uid, now, guard)
  local oidx = user_key(h .. ':u:', uid)
  local tids = redis.call('ZRANGE', oidx, 0, -1)
  if #tids == 0 then return true end
  if guard then
    local res = redis.pcall('SET', h .. ':o', '', 'XX')
    if type(res) == 'table' and res.err ~= nil then return false end
  end
  local idx = user_key(h .. ':i:', uid)
  local indexed = redis.call('EXISTS', idx) == 1
  local shared = redis.call('EXISTS', h) == 1
  for _, tid in ipairs(tids) do
    local id = string.sub(tid, 9)
    local r = legacy_record(h, id, now)
    if r ~= nil and redis.call('HEXISTS', h, id) == 0 then
      if shared then
        mark(h)
        shared = false
      end
      save(h, id, r, nil, false, indexed)
      cover(h, r.e, now)
      if indexed then
        redis.call('ZADD', idx, score(r), id)
        cover(idx, r.e, now)
      end
    end
    redis.call('DEL', h .. ':t:' .. tid, h .. ':f:' .. tid)
  end
  redis.call('DEL', oidx)
  return true
end
-- The record of token id: this layout's, else a 0.1 one (its user migrated when Redis takes writes,
-- else read only: r.ro). nil when neither exists.
local function find(h, id, now)
  local r = load(h, id)
  if r ~= nil then return r end
  r = legacy_record(h, id, now)
  if r == nil then return nil end
  if migrate(h, r.uid, now, true) then return load(h, id) end
  r.ro = true
  return r
end
-- Deletes a 0.1 record read only (find's r.ro), with its counter and index entry.
local function drop_legacy(h, r)
  redis.call('DEL', h .. ':t:' .. r.tid, h .. ':f:' .. r.tid)
  redis.call('ZREM', user_key(h .. ':u:', r.uid), r.tid)
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
 * above it; `header` for the lines that define nothing), in source order. Each script takes only the
 * ones it uses, so a call does not create closures it never calls.
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

/**
 * The prelude parts that `body` uses (calls, for a function), directly or through each other, except
 * those in `skip` (in source order; `'header'` in `skip` leaves out the lines that define nothing).
 */
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
  return `${PRELUDE_PARTS.filter((p) => used.has(p.name) && !skip.has(p.name))
    .map((p) => p.text)
    .join('\n')}\n`;
}

/**
 * create. KEYS: the hash, the user's index. ARGV: token id (16 characters, no tag), user id, max tokens
 * ('' = none), limit policy, ttl ms ('' = immortal), ttl is override ('1'/'0'), absolute lifetime ms
 * (''), key id, digest (22 characters), the record's tail after the user id (name, user agent, ip,
 * scopes, metadata; see the header), the ring's key ids (comma-separated), the DPoP key thumbprint ('' = none).
 * Reply: {0, limit} when refused; {1, first, record text, evicted ids (16 characters)...}.
 *
 * Bounded: a user without an index has at most about 32 tokens, read with one HGETALL; a user with one
 * is pruned with ZRANGEBYSCORE and, at the limit, evicts among the 16 tokens that expire first: the
 * least recently used under sliding expiry with one TTL (what `evict-lru` means), the oldest-created
 * when renewal is off. Users without an index get the exact least recently used (by `l`, written at
 * most once per touch interval: see the README).
 */
export const CREATE = script(
  'create',
  `
local h, idx = KEYS[1], KEYS[2]
local id, uid = ARGV[1], ARGV[2]
-- A write refused under OOM before anything changes (that key never exists: SET XX is a no-op).
redis.call('SET', h .. ':o', '', 'XX')
local now = now_ms()
migrate(h, uid, now, false)
local max = num(ARGV[3])
local kids = key_set(ARGV[11])
local eu = enc(uid)
local first, evicted = 1, {}
local live = tidy(h, idx, now)
local mine, owned = {}, {}
if live == nil then
  -- This login reads no other user's records: unless one of the user's own live records is in the
  -- hash (then whoever wrote the other's, before or after it, saw it and marked the hash), a hash
  -- holding anything gets the mark.
  local one = redis.call('ZRANGE', idx, 0, 0)
  if (one[1] == nil or redis.call('HEXISTS', h, one[1]) == 0) and redis.call('EXISTS', h) == 1 then mark(h) end
  local n = redis.call('ZCARD', idx)
  if n > 0 then first = 0 end
  if max ~= nil and n >= max and ARGV[4] == 'reject' then
    -- ZCARD also counts records deleted or broken by hand and tokens of keys dropped from the ring:
    -- count only live records of the ring's keys, as below 33 tokens (entries whose record is gone are
    -- dropped on the way; the walk stops at the limit).
    local count = 0
    for _, t in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
      local o = load(h, t)
      if o == nil then
        drop(h, t)
        redis.call('ZREM', idx, t)
      elseif kids[o.k] then
        count = count + 1
        if count >= max then return { 0, max } end
      end
    end
    n = count
  end
  if max ~= nil and n >= max then
    local cands = {}
    for _, t in ipairs(redis.call('ZRANGE', idx, 0, n - max + 15)) do
      local o = load(h, t)
      if o == nil or not kids[o.k] then
        drop(h, t)
        redis.call('ZREM', idx, t)
        n = n - 1
      else
        cands[#cands + 1] = { t, o.l, o.c }
      end
    end
    table.sort(cands, function(x, y)
      if x[2] ~= y[2] then return x[2] < y[2] end
      if x[3] ~= y[3] then return x[3] < y[3] end
      return x[1] < y[1]
    end)
    local i = 1
    while n >= max and i <= #cands do
      drop(h, cands[i][1])
      redis.call('ZREM', idx, cands[i][1])
      evicted[#evicted + 1] = cands[i][1]
      n, i = n - 1, i + 1
    end
  end
else
  local others = false
  for _, o in ipairs(live) do
    if owns(o, eu) then
      owned[#owned + 1] = o
      if kids[o.k] then mine[#mine + 1] = o end
    else
      others = true
    end
  end
  -- Another user's live record (tags collide) beside this login's: the hash gets the mark.
  if others then mark(h) end
  if #mine > 0 then first = 0 end
  if max ~= nil and #mine >= max then
    if ARGV[4] == 'reject' then return { 0, max } end
    table.sort(mine, function(x, y)
      if x.l ~= y.l then return x.l < y.l end
      if x.c ~= y.c then return x.c < y.c end
      return x.id < y.id
    end)
    for i = 1, #mine - max + 1 do
      drop(h, mine[i].id)
      mine[i].gone = true
      evicted[#evicted + 1] = mine[i].id
    end
  end
end
local ttl, abs = num(ARGV[5]), num(ARGV[7])
if abs ~= nil then abs = now + abs end
local e = nil
if ttl ~= nil then e = now + ttl end
if abs ~= nil then
  if e == nil then e = abs else e = math.min(e, abs) end
end
local r = { k = ARGV[8], d = ARGV[9], c = now, l = now, e = e, a = abs, f = 0, tail = eu .. '\\31' .. ARGV[10] }
if ARGV[6] == '1' then r.t = ttl end
if ARGV[12] ~= '' then r.j = ARGV[12] end
if live == nil then
  save(h, id, r, nil, false, true)
  redis.call('ZADD', idx, score(r), id)
  refit(h, idx, now)
else
  local kept = #owned - #evicted + 1
  if kept > ${INDEX_FROM_TOKENS} then
    -- From now on this user has an index, and whole records.
    for _, o in ipairs(owned) do
      if not o.gone then
        if o.n > 0 then save(h, o.id, o, o.n, false, true) end
        redis.call('ZADD', idx, score(o), o.id)
      end
    end
  end
  save(h, id, r, nil, false, kept > ${INDEX_FROM_TOKENS})
  live[#live + 1] = r
  fit(h, live)
  if kept > ${INDEX_FROM_TOKENS} then
    redis.call('ZADD', idx, score(r), id)
    owned[#owned + 1] = r
    fit(idx, owned)
  end
end
publish_revoked(h, evicted)
local reply = { 1, first, r.raw }
for _, t in ipairs(evicted) do reply[#reply + 1] = t end
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
  /** True for the variant that checks a DPoP proof ({@link dpopVerifyLua}); false or absent: bound tokens are refused. */
  dpop?: boolean;
}

/**
 * The DPoP part of the verify script (RFC 9449; see `StoreDpopCheck`), run after the digest matched
 * and the token is live, before any renewal. Without a proof (`dpop` false) a bound record (field j)
 * is refused: 4. With one (ARGV[2] thumbprint, ARGV[3] replay window ms, KEYS[2] the jti key of
 * `RedisKeys.dpopJtiKey`): 7 an unbound record, 5 another key, 6 a jti already seen (SET NX PX
 * records it otherwise, in the user's hash slot).
 */
export function dpopVerifyLua(dpop: boolean): string {
  if (!dpop)
    return `if r.j then return 4 end
`;
  return `if not r.j then return 7 end
if r.j ~= ARGV[2] then return 5 end
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then return 6 end
`;
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
 * KEYS: the hash (and, with `dpop`, the proof's jti key). ARGV: token id (16 characters; with `dpop`:
 * then the proof key's thumbprint and the replay window ms), then key id/digest (22 characters) pairs.
 * Reply: an integer when refused: 0 not found, 1 digest mismatch, 3 throttled, 4-7 the DPoP refusals
 * of {@link dpopVerifyLua}; when valid, one string: renewed (`0`/`1`), Redis's TIME in ms (decimal
 * digits), a comma, the record text (one bulk string is cheaper to build, send and decode than an array).
 *
 * Cheap on the common path: one HGET (one HMGET more for a record in pieces) reads the record and its
 * wrong-secret count together, one string.match parses it, nothing is written unless a write is due.
 * A due write is the record's own HSET, first and under `pcall`: when Redis refuses it (out of memory,
 * a read-only replica, ...), nothing has changed and the token verifies without renewal; once it is
 * accepted, Redis lets the script's other writes through (the hash's TTL raised to cover the new
 * expiry, the user's index updated when there is one). A token of the 0.1 layout is found on a miss
 * (one GET more) and its user's tokens are moved to this layout.
 */
export function verifyScript(c: VerifyScriptConfig): LuaScript {
  if (c.mode !== 'off' && c.mode !== 'token' && c.mode !== 'user')
    throw new RangeError(`verify script: unknown renewal mode ${String(c.mode)}`);
  const cfg = c.ttlMs === null ? 'nil' : luaInt('ttlMs', c.ttlMs);
  const maxf = c.maxFailures === null ? null : luaInt('maxFailures', c.maxFailures);
  const check = maxf === null ? '' : `if throttled(r, ${maxf}) then return 3 end\n`;
  const failed = maxf === null ? '' : `count_failure(h, id, r, ${luaInt('failureWindowMs', c.failureWindowMs)})\n`;
  const others =
    c.mode !== 'user'
      ? ''
      : `local eu = string.match(r.tail, '^[^\\31]*')
local rs = {}
if indexed then
  for _, t in ipairs(redis.call('ZRANGEBYSCORE', idx, '(' .. fmt(now), '+inf')) do
    local o = load(h, t)
    if o ~= nil then o.id = t rs[#rs + 1] = o end
  end
else
  rs = scan(h)
end
for _, o in ipairs(rs) do
  if o.id ~= id and not o.bad and owns(o, eu) and not (o.e and o.e <= now) then
    o.e = renewed_expiry(o.e, o.t or cfg, overwrite, o.a, now)
    save(h, o.id, o, o.n, false, indexed)
    cover(h, o.e, now)
    if indexed then
      redis.call('ZADD', idx, 'XX', score(o), o.id)
      cover(idx, o.e, now)
    end
  end
end
`;
  // The read path, with its rare branches (a miss that may find a 0.1 record, a wrong secret, a 0.1
  // record read only) as cold(...): their helpers are defined inside the branch, so a verify that takes
  // none of them creates only the closures of the common path (a closure per helper per call, each one
  // about as costly as a Redis command of its own).
  const cold = (code: string) => `\u0000${code}\u0000`;
  const readBody = `
local h, id = KEYS[1], ARGV[1]
local cfg, overwrite = ${cfg}, ${c.overwriteNoneTtl ? 'true' : 'false'}
local r = load(h, id)
if r == nil then
${cold('r = find(h, id, now_ms())\n')}  if r == nil then return 0 end
end
${check}local ok = digest_ok(r, ARGV, ${c.dpop ? 4 : 2})
if ok == nil then return 0 end
if not ok then
${failed === '' ? '' : cold(failed)}  return 1
end
local now = now_ms()
if r.e and r.e <= now then return 0 end
${dpopVerifyLua(c.dpop === true)}if r.ro then
${cold("return '0' .. now .. ',' .. encode(r)\n")}end
if not touch_due(r.l, now, ${luaInt('touchIntervalMs', c.touchIntervalMs)}, r.t or cfg) then return '0' .. now .. ',' .. r.raw end
`;
  const writeBody = `
-- A write is due. When Redis refuses writes (out of memory, a read-only replica) the token still
-- verifies; last-used and renewal wait until writes are accepted again.
local raw = r.raw
r.l = now
${c.mode === 'off' ? '' : 'r.e = renewed_expiry(r.e, r.t or cfg, overwrite, r.a, now)\n'}local idx = user_key(h .. ':i:', uid_of(r))
local indexed = redis.call('EXISTS', idx) == 1
if not save(h, id, r, r.n, true, indexed) then return '0' .. now .. ',' .. raw end
cover(h, r.e, now)
if indexed then
  redis.call('ZADD', idx, 'XX', score(r), id)
  cover(idx, r.e, now)
end
${others}return '${c.mode === 'off' ? 0 : 1}' .. now .. ',' .. r.raw
`;
  // The helpers of the write path are defined after the read path's returns, those of a cold branch
  // inside it: a verify with nothing to write creates only the read path's. The header (effects
  // replication, for a Redis 5 or 6 set to \`lua-replicate-commands no\`) goes where writes may follow:
  // it must come before the first write, not before TIME.
  const parts = readBody.split('\u0000');
  const hot = parts.filter((_, i) => i % 2 === 0).join('');
  const hotPrelude = preludeFor(hot, new Set(['header']));
  const defined = new Set(PRELUDE_PARTS.filter((p) => hotPrelude.includes(p.text)).map((p) => p.name));
  const body = parts.map((p, i) => (i % 2 === 0 ? p : preludeFor(p, defined) + p)).join('');
  const source = hotPrelude + body + preludeFor(writeBody, defined) + writeBody;
  return { name: 'verify', source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * revoke by token (deletes the record). KEYS: the hash. ARGV: token id (16 characters), max failures
 * (''), failure window ms, then key id/digest pairs. Reply: '' when nothing was revoked, else the record text.
 */
export const REVOKE_TOKEN = script(
  'revokeToken',
  `
local h, id = KEYS[1], ARGV[1]
local now = now_ms()
local r = find(h, id, now)
if r == nil then return '' end
if throttled(r, num(ARGV[2])) then return '' end
local ok = digest_ok(r, ARGV, 4)
if ok == nil then return '' end
if not ok then
  if ARGV[2] ~= '' then count_failure(h, id, r, tonumber(ARGV[3])) end
  return ''
end
if r.ro then
  drop_legacy(h, r)
  publish_revoked(h, {}, { r.tid })
  return encode(r)
end
drop(h, id)
publish_revoked(h, { id })
local idx = user_key(h .. ':i:', uid_of(r))
redis.call('ZREM', idx, id)
tidy(h, idx, now)
if r.e and r.e <= now then return '' end
return r.raw
`,
);

/** revoke by id. KEYS: the hash, the user's index. ARGV: token id (16 characters), user id. Reply: 1 revoked, 0 not. */
export const REVOKE_BY_ID = script(
  'revokeById',
  `
local h, idx = KEYS[1], KEYS[2]
local id, uid = ARGV[1], ARGV[2]
local now = now_ms()
local done = 0
local r = load(h, id)
if r ~= nil and owns(r, enc(uid)) then
  drop(h, id)
  redis.call('ZREM', idx, id)
  publish_revoked(h, { id })
  if not (r.e and r.e <= now) then done = 1 end
elseif r == nil then
  r = legacy_record(h, id, now)
  if r ~= nil and r.uid == uid then
    drop_legacy(h, r)
    publish_revoked(h, {}, { r.tid })
    done = 1
  end
end
tidy(h, idx, now)
return done
`,
);

/**
 * revoke all (and revoke others: a token to keep). KEYS: the hash, the user's index. ARGV: user id,
 * token id to keep ('' = none). Reply: the revoked ids with their tag (24 characters), space-separated
 * in one string (one reply, not one per token): the message `publish_revoked` sent to the verify
 * caches. Only the user's own records go, and atomically:
 *
 * - A user with an index (more than 32 tokens): when the hash has no mark (see `mark`) and holds one
 *   of the user's live records, it holds no other user's live record (the write that put two users'
 *   records together marked it), so the hash and the index are UNLINKed whole (Redis frees big ones
 *   off its main thread) after one ZRANGEBYSCORE reads the live ids to return; a token kept is written
 *   back into fresh keys. Otherwise (a marked hash, i.e. colliding user tags), each of the user's
 *   records is deleted by id (HDEL and ZREM in batches of 1,000), never judged from counts.
 *   Why an unmarked hash is safe to drop: of this user's live record R and another user's live record
 *   Q, the one written later was written beside the other (records are never written back once
 *   deleted), by a login that read the whole hash (it marks), a 0.1 move into a non-empty hash (it
 *   marks), or a login through its user's index, which marks unless a live record of that user, older
 *   still, was in the hash: the same holds for that pair, and so on back to one of the first two.
 * - A user without an index: one scan of the hash reads every record; when every live one is the
 *   user's and none is kept, the hash goes whole, else the user's records go one by one.
 *
 * A 0.1 user's tokens (layout 0.1 keys) go too.
 */
export const REVOKE_ALL = script(
  'revokeAll',
  `
local h, idx = KEYS[1], KEYS[2]
local uid, keep = ARGV[1], ARGV[2]
local now = now_ms()
local old, out = {}, {}
local oidx = user_key(h .. ':u:', uid)
for _, tid in ipairs(redis.call('ZRANGE', oidx, 0, -1)) do
  local id = string.sub(tid, 9)
  if id ~= keep then
    if legacy_record(h, id, now) ~= nil then old[#old + 1] = tid end
    redis.call('DEL', h .. ':t:' .. tid, h .. ':f:' .. tid)
    redis.call('ZREM', oidx, tid)
  end
end
if redis.call('EXISTS', idx) == 1 then
  if not marked(h) then
    local ids = redis.call('ZRANGEBYSCORE', idx, '(' .. fmt(now), '+inf')
    if #ids > 0 and redis.call('HEXISTS', h, ids[1]) == 1 then
      -- Only this user's live records in the hash: both keys go whole.
      local r = nil
      if keep ~= '' then
        r = load(h, keep)
        if r ~= nil and ((r.e and r.e <= now) or not owns(r, enc(uid))) then r = nil end
      end
      redis.call('UNLINK', h, idx)
      if r == nil then return publish_revoked(h, ids, old) end
      save(h, keep, r, nil, false, true)
      redis.call('ZADD', idx, score(r), keep)
      fit(h, { r })
      fit(idx, { r })
      for _, t in ipairs(ids) do
        if t ~= keep then out[#out + 1] = t end
      end
      return publish_revoked(h, out, old)
    end
  end
  local ids = redis.call('ZRANGE', idx, 0, -1, 'WITHSCORES')
  local batch = {}
  for i = 1, #ids, 2 do
    local t = ids[i]
    if t ~= keep then
      if tonumber(ids[i + 1]) > now then out[#out + 1] = t end
      batch[#batch + 1] = t
      if #batch == 1000 then
        redis.call('HDEL', h, unpack(batch))
        redis.call('ZREM', idx, unpack(batch))
        batch = {}
      end
    end
  end
  if #batch > 0 then
    redis.call('HDEL', h, unpack(batch))
    redis.call('ZREM', idx, unpack(batch))
  end
  -- TTLs refitted to what is left (an immortal token of this user may have gone): the kept token's
  -- index, or the other user's records in the hash.
  if redis.call('EXISTS', idx) == 1 then
    refit(h, idx, now)
  elseif redis.call('PTTL', h) == -1 then
    fit_live(h, now)
  end
  unmark(h)
  return publish_revoked(h, out, old)
end
local eu = enc(uid)
local live = tidy(h, idx, now)
for _, o in ipairs(live) do
  if o.id ~= keep and owns(o, eu) then
    o.gone = true
    out[#out + 1] = o.id
  end
end
if #out == #live then
  -- Every live record in the hash is this user's (the scan read them all): it goes whole.
  redis.call('UNLINK', h)
elseif #out > 0 then
  for _, o in ipairs(live) do
    if o.gone then drop(h, o.id) end
  end
  fit(h, live)
end
return publish_revoked(h, out, old)
`,
);

/**
 * list. KEYS: the hash. ARGV: user id, cursor ('' = everything: one HGETALL; else an HSCAN cursor,
 * '0' to start), count (HSCAN's COUNT hint). Read-only.
 * Reply: {now ms, next cursor ('0' = done), 'field NUL stored value NUL ...' (one string: one reply, not
 * two per field; no field or record holds a NUL), {piece field, value, ...},
 * {0.1 token id, record text, ...}}: the hash's fields as stored (HGETALL, or one HSCAN page and the
 * pieces of its records that the page lacks); Node puts records together from their pieces and keeps
 * the user's live ones (RedisStore.list), so Redis does no more than one HGETALL for a whole list.
 * 0.1 tokens on the first page only.
 */
export const LIST = script(
  'list',
  `
local h = KEYS[1]
local uid, cursor = ARGV[1], ARGV[2]
local now = now_ms()
local flat, next, more = nil, '0', {}
if cursor == '' then
  flat = redis.call('HGETALL', h)
else
  local page = redis.call('HSCAN', h, cursor, 'COUNT', ARGV[3])
  next, flat = page[1], page[2]
  local seen = {}
  for i = 1, #flat, 2 do seen[flat[i]] = true end
  for i = 1, #flat, 2 do
    local f = flat[i]
    if #f == 16 then
      for _, p in ipairs(piece_names(f, flat[i + 1]) or {}) do
        if not seen[p] then
          seen[p] = true
          more[#more + 1] = p
          more[#more + 1] = redis.call('HGET', h, p) or ''
        end
      end
    end
  end
end
local old = {}
if cursor == '' or cursor == '0' then
  for _, tid in ipairs(redis.call('ZRANGE', user_key(h .. ':u:', uid), 0, -1)) do
    local r = legacy_record(h, string.sub(tid, 9), now)
    if r ~= nil then
      old[#old + 1] = tid
      old[#old + 1] = encode(r)
    end
  end
end
return { now, next, table.concat(flat, '\\0'), more, old }
`,
);

/**
 * lookup by id, for operators (read-only: no renewal, no counting, no move of a 0.1 token). KEYS: the
 * hash. ARGV: token id (16 characters), then key id/digest pairs (none: no check). Reply: false when no
 * live record; else {record text, digest check: 1 match, 0 no match, -1 not asked}.
 */
export const LOOKUP = script(
  'lookup',
  `
local h, id = KEYS[1], ARGV[1]
local now = now_ms()
local r = load(h, id) or legacy_record(h, id, now)
if r == nil or (r.e and r.e <= now) then return false end
local ok = -1
if #ARGV > 1 then
  if digest_ok(r, ARGV, 2) then ok = 1 else ok = 0 end
end
return { encode(r), ok }
`,
);

/**
 * One user tag's hash as the admin `stats` sees it (read-only). KEYS: the hash. Reply: {live records,
 * stale records (expired, or a piece missing), 1 when the hash should have a TTL (no immortal live
 * record) else 0, {live tokens of each user in the hash}}.
 */
export const HASH_STATS = script(
  'hashStats',
  `
local now = now_ms()
local live, stale, immortal, per = 0, 0, false, {}
for _, o in ipairs(scan(KEYS[1])) do
  if o.bad or (o.e and o.e <= now) then
    stale = stale + 1
  else
    live = live + 1
    if o.e == nil then immortal = true end
    local u = string.match(o.tail, '^[^\\31]*')
    per[u] = (per[u] or 0) + 1
  end
end
local counts = {}
for _, n in pairs(per) do counts[#counts + 1] = n end
local should = 1
if immortal then should = 0 end
return { live, stale, should, counts }
`,
);

/**
 * One user index as the admin `stats` sees it (read-only). KEYS: the index. Reply: {live entries,
 * stale entries (what {@link PRUNE_INDEX} drops: the record gone or unreadable, or the entry expired while
 * its record did not; an expired record is the hash's stale entry, dropped with its index entry), 1 when
 * the index should have a TTL}.
 */
export const INDEX_STATS = script(
  'indexStats',
  `
local idx = KEYS[1]
local h = string.match(idx, '^(.*}):i:')
local now = now_ms()
local live, stale, immortal = 0, 0, false
local members = redis.call('ZRANGE', idx, 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local score = tonumber(members[i + 1])
  if index_stale(h, idx, members[i], score, now) then
    stale = stale + 1
  elseif score > now then
    live = live + 1
    if score >= 1e15 then immortal = true end
  end
end
local should = 1
if immortal or #members == 0 then should = 0 end
return { live, stale, should }
`,
);

/**
 * prune one hash (the admin `prune`; its dry run is {@link HASH_STATS}'s stale count): drops expired
 * and broken records (and their index entries), then fits the hash's TTL to its longest-lived record.
 * KEYS: the hash. Reply: the number of records dropped.
 */
export const PRUNE_HASH = script(
  'pruneHash',
  `
local h = KEYS[1]
local now = now_ms()
local live, dropped = {}, 0
for _, o in ipairs(scan(h)) do
  if o.bad or (o.e and o.e <= now) then
    drop(h, o.id)
    if not o.bad then redis.call('ZREM', user_key(h .. ':i:', uid_of(o)), o.id) end
    dropped = dropped + 1
  else
    live[#live + 1] = o
  end
end
fit(h, live)
unmark(h)
return dropped
`,
);

/**
 * prune one user index (the admin `prune`; its dry run is {@link INDEX_STATS}'s stale count): drops
 * entries whose record is gone or unreadable, or that expired while their record did not (an expired
 * record goes with its entry in {@link PRUNE_HASH}), then sets the index's TTL to its top score. KEYS: the
 * index. Reply: the number of entries dropped.
 */
export const PRUNE_INDEX = script(
  'pruneIndex',
  `
local idx = KEYS[1]
local h = string.match(idx, '^(.*}):i:')
local now = now_ms()
local dropped = 0
local members = redis.call('ZRANGE', idx, 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  if index_stale(h, idx, members[i], tonumber(members[i + 1]), now) then
    redis.call('ZREM', idx, members[i])
    dropped = dropped + 1
  end
end
local top = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
if #top > 0 then
  if tonumber(top[2]) >= 1e15 then redis.call('PERSIST', idx) else redis.call('PEXPIREAT', idx, top[2]) end
end
return dropped
`,
);

/**
 * reauthenticate (step-up, RFC 9470): sets the record's last authentication to now (Redis TIME) and
 * its `acr`, when the record exists, belongs to the user and has not expired; touches nothing else
 * (the hash keeps its TTL, the index its score). A missing record stays missing: never resurrected. A
 * 0.1 record moves its user first. KEYS: the hash, the user's index. ARGV: token id (16 characters),
 * user id, acr ('' = none). Reply: '' when nothing changed, else the record text.
 */
export const REAUTHENTICATE = script(
  'reauthenticate',
  `
local h, idx = KEYS[1], KEYS[2]
local id, uid = ARGV[1], ARGV[2]
local now = now_ms()
local r = find(h, id, now)
if r == nil or r.ro or not owns(r, enc(uid)) then return '' end
if r.e and r.e <= now then return '' end
r.au = now
r.tail = string.match(r.tail, '^(.*)\\31[^\\31]*$') .. '\\31' .. enc(ARGV[3] ~= '' and ARGV[3] or nil)
return save(h, id, r, r.n, false, redis.call('EXISTS', idx) == 1)
`,
);
