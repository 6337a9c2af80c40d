/**
 * An IP address as people read it: IPv4-mapped IPv6 addresses (`::ffff:203.0.113.7`, RFC 4291
 * §2.5.5.2, what a dual-stack Node server reports for IPv4 clients) become plain IPv4; anything else is
 * returned as is; empty or missing gives null.
 */
export function displayIp(ip: string | undefined | null): string | null {
  if (!ip) return null;
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m ? m[1]! : ip;
}

/** Device details of a login request, for `manager.create(userId, { ...details, deviceName })`. */
export interface DeviceDetails {
  /** The User-Agent header, or null when absent or empty. */
  userAgent: string | null;
  /** The client IP address (IPv4-mapped IPv6 shown as IPv4), or null when unknown. */
  ip: string | null;
}

/**
 * Device details from what an adapter read off a request: `userAgent` is the User-Agent header value
 * (the first one when a list is given; empty gives null), `ip` the client address as the framework
 * reports it (after its own trust-proxy setting: `req.ip` in Express, `request.ip` in Fastify,
 * `ctx.ip` in Koa, the socket address in Hono), shown by {@link displayIp}.
 * `create` cuts a longer User-Agent to 512 characters at a grapheme boundary: a long one never fails a login.
 */
export function deviceDetails(input: {
  userAgent?: string | readonly string[] | null;
  ip?: string | null;
}): DeviceDetails {
  const ua =
    typeof input.userAgent === 'string'
      ? input.userAgent
      : Array.isArray(input.userAgent)
        ? input.userAgent[0]
        : undefined;
  return { userAgent: typeof ua === 'string' && ua.length > 0 ? ua : null, ip: displayIp(input.ip) };
}
