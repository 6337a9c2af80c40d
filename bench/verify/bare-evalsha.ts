/** Variant: a bare EVALSHA of a trivial script (one GET) — the floor for anything done in one Lua script. */
import { RECORD_SIZED_VALUE, type VerifyVariant } from './variant.js';

export const TRIVIAL_SCRIPT = "return redis.call('GET', KEYS[1])";

const variant: VerifyVariant = {
  name: 'evalsha',
  title: 'bare EVALSHA of a one-line GET script',
  commands: ['evalsha', 'eval'],
  async prepare(conn, users) {
    const keys = Array.from({ length: users }, (_, i) => `bare:${conn.kind}:${i}`);
    for (const k of keys) await conn.set(k, RECORD_SIZED_VALUE);
    const sha = await conn.scriptLoad(TRIVIAL_SCRIPT);
    let i = 0;
    return async () => {
      if ((await conn.evalsha(sha, keys[i++ % keys.length]!)) === null) throw new Error('bare EVALSHA: key missing');
    };
  },
};
export default variant;
