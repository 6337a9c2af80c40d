/** Variant: a bare GET of a record-sized value — the floor for anything that needs one round trip. */
import { RECORD_SIZED_VALUE, type VerifyVariant } from './variant.js';

const variant: VerifyVariant = {
  name: 'get',
  title: 'bare GET (one round trip)',
  commands: ['get'],
  async prepare(conn, users) {
    const keys = Array.from({ length: users }, (_, i) => `bare:${conn.kind}:${i}`);
    for (const k of keys) await conn.set(k, RECORD_SIZED_VALUE);
    let i = 0;
    return async () => {
      if ((await conn.get(keys[i++ % keys.length]!)) === null) throw new Error('bare GET: key missing');
    };
  },
};
export default variant;
