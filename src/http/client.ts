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
