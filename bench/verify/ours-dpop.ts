/**
 * Variants for DPoP-bound tokens (RFC 9449), beside the bearer ones:
 * - `ours-dpop`: what a bound request costs the server: the proof check of the HTTP layer (shape,
 *   claims, `ath`, the ES256 signature by jose, the JWK thumbprint) and `TokenManager.verify` with the
 *   proof's key and `jti` (one script: token, key match, `SET NX PX` of the jti). One proof is signed
 *   at preparation and checked on every call (signing is the client's cost); each call gives the store a
 *   fresh jti hash, so the replay check does its write every time, as with real clients.
 * - `dpop-proof`: the proof check alone (no I/O): its `nodeCpuUsPerOp` is the CPU the binding adds.
 */
import { TokenManager } from 'redis-multitokens';
import { checkDpopProof, resolveDpopOptions, type DpopReader } from 'redis-multitokens/http';
import { DpopClient } from 'redis-multitokens/testing';
import { BENCH_SECRET } from './ours.js';
import type { VerifyVariant } from './variant.js';

interface BenchRequest {
  proof: string;
  url: string;
}
const READER: DpopReader<BenchRequest> = {
  proof: (r) => r.proof,
  method: () => 'GET',
  origin: () => 'https://api.example.com',
  path: () => '/me',
};
/** The longest window (600 s), so the one proof stays fresh for a whole run. */
const OPTIONS = resolveDpopOptions({ proofWindowSeconds: 600 });
/** The jti keys' lifetime in the bench, in milliseconds: short, so a long run does not fill Redis with them. */
const BENCH_REPLAY_WINDOW_MS = 2_000;

async function boundTokens(
  manager: TokenManager,
  device: DpopClient,
  users: number,
  tag: string,
): Promise<BenchRequest[]> {
  const out: BenchRequest[] = [];
  for (let u = 0; u < users; u++) {
    const { token } = await manager.create(`verify-${tag}-${u}`, { jkt: device.jkt });
    out.push({ proof: await device.proof('GET', 'https://api.example.com/me', token), url: token });
  }
  return out;
}

export const oursDpop: VerifyVariant = {
  name: 'ours-dpop',
  title: 'our verify of a DPoP-bound token: ES256 proof check + verify with key match and jti SET NX, no renewal due',
  commands: ['evalsha', 'eval'],
  async prepare(conn, users) {
    const manager = new TokenManager({ store: conn.store, secret: BENCH_SECRET, touchIntervalSeconds: 3600 });
    const device = await DpopClient.create('ES256');
    const requests = await boundTokens(manager, device, users, 'd');
    let i = 0;
    return async () => {
      const n = i++;
      const req = requests[n % requests.length]!;
      const proof = await checkDpopProof(req, READER, OPTIONS, req.url);
      if (!proof.ok) throw new Error(`ours-dpop: proof refused: ${proof.description}`);
      const dpop = {
        ...proof.check,
        jtiHash: `${proof.check.jtiHash.slice(0, 30)}${n}`,
        replayWindowMs: BENCH_REPLAY_WINDOW_MS,
      };
      if (!(await manager.verify(req.url, { dpop })).valid) throw new Error('ours-dpop: token invalid');
    };
  },
};

export const dpopProof: VerifyVariant = {
  name: 'dpop-proof',
  title: 'the DPoP proof check alone (ES256 signature by jose, claims, ath, thumbprint), no I/O',
  commands: [],
  clients: ['ioredis'],
  async prepare(conn, users) {
    const manager = new TokenManager({ store: conn.store, secret: BENCH_SECRET });
    const requests = await boundTokens(manager, await DpopClient.create('ES256'), Math.min(users, 8), 'p');
    let i = 0;
    return async () => {
      const req = requests[i++ % requests.length]!;
      if (!(await checkDpopProof(req, READER, OPTIONS, req.url)).ok) throw new Error('dpop-proof: refused');
    };
  },
};
