/**
 * The demo API over real HTTP (fetch against a listening server on 127.0.0.1), once with the memory
 * store and once with the Redis store (a unique key prefix, deleted afterwards), users in in-memory SQLite,
 * on every framework whose demo/frameworks/<fw>.ts exists: the same black-box tests for each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DpopClient } from '../../src/testing/index.js';
import { call, demoFrameworks, startDemo, type RunningDemo, type StoreKind } from './harness.js';

describe.each(demoFrameworks)('demo on %s', (framework) => {
  let userCounter = 0;
  /** A username no other test of this file uses. */
  const freshName = (label: string) => `${label}${++userCounter}`;
  const PASSWORD = 'correct horse battery';

  describe.each<StoreKind>(['memory', 'redis'])('demo API on the %s store', (store) => {
    let demo: RunningDemo;
    const api = (method: string, path: string, options?: Parameters<typeof call>[3]) =>
      call(demo.baseUrl, method, path, options);

    async function register(username: string) {
      const res = await api('POST', '/register', { json: { username, password: PASSWORD } });
      expect(res.status).toBe(201);
      return res.body as { id: number; username: string };
    }

    async function login(username: string, device: string, userAgent = `test-agent ${device}`) {
      const res = await api('POST', '/login', {
        json: { username, password: PASSWORD, device },
        headers: { 'User-Agent': userAgent },
      });
      expect(res.status).toBe(200);
      return res.body as { token: string; tokenId: string; first: boolean };
    }

    beforeAll(async () => {
      demo = await startDemo({ framework, store });
    });
    afterAll(async () => {
      await demo?.stop();
    });

    it('GET /health answers without auth and names the store', async () => {
      const res = await api('GET', '/health');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: true, store });
    });

    it('POST /register creates a user (201) and refuses a taken name, in any case (409)', async () => {
      const name = freshName('Reg');
      const res = await api('POST', '/register', { json: { username: name, password: PASSWORD } });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ id: expect.any(Number), username: name });
      for (const taken of [name, name.toLowerCase()]) {
        const again = await api('POST', '/register', { json: { username: taken, password: PASSWORD } });
        expect(again.status).toBe(409);
        expect(again.body).toMatchObject({ error: 'username_taken' });
      }
    });

    it('two devices get their own tokens; logout on one leaves the other; logout-all ends both', async () => {
      const name = freshName('alice');
      const user = await register(name);
      const laptop = await login(name, 'laptop');
      const phone = await login(name, 'phone');
      expect(laptop.token).not.toBe(phone.token);
      expect(laptop.tokenId).not.toBe(phone.tokenId);
      expect(laptop.first).toBe(true);
      expect(phone.first).toBe(false);

      for (const [device, t] of [
        ['laptop', laptop],
        ['phone', phone],
      ] as const) {
        const me = await api('GET', '/me', { token: t.token });
        expect(me.status).toBe(200);
        expect(me.body.user).toEqual({ id: user.id, username: name });
        expect(me.body.token).toMatchObject({
          tokenId: t.tokenId,
          deviceName: device,
          userAgent: `test-agent ${device}`,
          ip: '127.0.0.1',
        });
        expect(me.text).not.toContain(t.token);
      }

      const out = await api('POST', '/logout', { token: laptop.token });
      expect(out.status).toBe(204);
      expect(out.text).toBe('');
      expect((await api('GET', '/me', { token: laptop.token })).status).toBe(401);
      expect((await api('GET', '/me', { token: phone.token })).status).toBe(200);

      const tablet = await login(name, 'tablet');
      expect(tablet.first).toBe(false);
      expect((await api('POST', '/logout-all', { token: tablet.token })).status).toBe(204);
      for (const t of [phone, tablet]) {
        const me = await api('GET', '/me', { token: t.token });
        expect(me.status).toBe(401);
        expect(me.body).toMatchObject({ reason: 'invalid_token' });
      }
      expect((await login(name, 'laptop')).first).toBe(true);
    });

    it('GET /devices lists the devices newest first with the current one marked; DELETE /devices/:id logs one out', async () => {
      const name = freshName('bob');
      await register(name);
      const laptop = await login(name, 'laptop');
      const phone = await login(name, 'phone');

      const list = await api('GET', '/devices', { token: laptop.token });
      expect(list.status).toBe(200);
      expect(
        list.body.devices.map((d: { tokenId: string; current: boolean; deviceName: string }) => [
          d.deviceName,
          d.tokenId,
          d.current,
        ]),
      ).toEqual([
        ['phone', phone.tokenId, false],
        ['laptop', laptop.tokenId, true],
      ]);
      for (const d of list.body.devices) {
        expect(d).toMatchObject({ ip: '127.0.0.1', userAgent: `test-agent ${d.deviceName}` });
        expect(typeof d.lastUsedAtMs).toBe('number');
      }
      expect(list.text).not.toContain(laptop.token);
      expect(list.text).not.toContain(phone.token);

      const del = await api('DELETE', `/devices/${phone.tokenId}`, { token: laptop.token });
      expect(del.status).toBe(204);
      expect((await api('GET', '/me', { token: phone.token })).status).toBe(401);
      expect((await api('GET', '/me', { token: laptop.token })).status).toBe(200);
      const after = await api('GET', '/devices', { token: laptop.token });
      expect(after.body.devices.map((d: { tokenId: string }) => d.tokenId)).toEqual([laptop.tokenId]);

      // Deleting it again, or an id that never existed, or one that is not even a token id: 404 JSON.
      for (const id of [phone.tokenId, 'A'.repeat(24), 'nope']) {
        const res = await api('DELETE', `/devices/${id}`, { token: laptop.token });
        expect(res.status, id).toBe(404);
        expect(res.body).toMatchObject({ error: 'not_found' });
      }
    });

    it('GET /devices?limit=N pages through the devices with nextCursor; a bad limit or cursor is a 400', async () => {
      const name = freshName('pat');
      await register(name);
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await login(name, `device-${i}`));
      const seen = new Set<string>();
      let cursor: string | null = null;
      for (let pages = 0; pages < 10; pages++) {
        const res = await api(
          'GET',
          `/devices?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
          { token: made[0]!.token },
        );
        expect(res.status, res.text).toBe(200);
        for (const d of res.body.devices) seen.add(d.tokenId);
        cursor = res.body.nextCursor;
        if (cursor === null) break;
      }
      expect(cursor).toBeNull();
      expect([...seen].sort()).toEqual(made.map((m) => m.tokenId).sort());
      for (const bad of ['limit=0', 'limit=x', 'limit=2&cursor=zz']) {
        const res = await api('GET', `/devices?${bad}`, { token: made[0]!.token });
        expect(res.status, bad).toBe(400);
        expect(typeof res.body.message, bad).toBe('string');
      }
    });

    it("DELETE /devices/:id with another user's token id is a 404 and leaves that token alone", async () => {
      const carol = freshName('carol');
      const mallory = freshName('mallory');
      await register(carol);
      await register(mallory);
      const carolToken = await login(carol, 'laptop');
      const malloryToken = await login(mallory, 'laptop');
      const res = await api('DELETE', `/devices/${carolToken.tokenId}`, { token: malloryToken.token });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ error: 'not_found' });
      expect((await api('GET', '/me', { token: carolToken.token })).status).toBe(200);
    });

    it('POST /logout-others keeps only the calling device', async () => {
      const name = freshName('dave');
      await register(name);
      const a = await login(name, 'a');
      const b = await login(name, 'b');
      const c = await login(name, 'c');
      expect((await api('POST', '/logout-others', { token: b.token })).status).toBe(204);
      expect((await api('GET', '/me', { token: a.token })).status).toBe(401);
      expect((await api('GET', '/me', { token: c.token })).status).toBe(401);
      const list = await api('GET', '/devices', { token: b.token });
      expect(list.body.devices).toHaveLength(1);
      expect(list.body.devices[0]).toMatchObject({ tokenId: b.tokenId, current: true, deviceName: 'b' });
    });

    it('step-up: log out other devices and change password need a recent password check (401 insufficient_user_authentication, POST /reauthenticate, then they work)', async () => {
      const stepped = await startDemo({ framework, store, stepUpMaxAgeSeconds: 1 });
      try {
        const at = (method: string, path: string, options?: Parameters<typeof call>[3]) =>
          call(stepped.baseUrl, method, path, options);
        const name = freshName('erin');
        expect((await at('POST', '/register', { json: { username: name, password: PASSWORD } })).status).toBe(201);
        const signIn = async (password: string) =>
          at('POST', '/login', { json: { username: name, password, device: 'd' } });
        const a = (await signIn(PASSWORD)).body as { token: string };
        const b = (await signIn(PASSWORD)).body as { token: string };
        await new Promise((resolve) => setTimeout(resolve, 1100)); // past the 1-second window
        const stale = await at('POST', '/logout-others', { token: b.token });
        expect(stale.status).toBe(401);
        expect(stale.headers.get('www-authenticate')).toMatch(
          /^Bearer realm="api", error="insufficient_user_authentication", error_description="[^"]+", max_age="1"$/,
        );
        expect(stale.body).toMatchObject({ error: 'insufficient_user_authentication', maxAgeSeconds: 1 });
        expect(
          (await at('POST', '/change-password', { token: b.token, json: { newPassword: 'a new long password' } }))
            .status,
        ).toBe(401);
        expect((await at('GET', '/me', { token: a.token })).status).toBe(200);
        expect((await at('GET', '/me', { token: b.token })).status).toBe(200);
        const wrong = await at('POST', '/reauthenticate', { token: b.token, json: { password: 'not the password' } });
        expect(wrong.status).toBe(403);
        expect(wrong.body).toMatchObject({ error: 'wrong_password' });
        expect((await at('POST', '/reauthenticate', { json: { password: PASSWORD } })).status).toBe(401);
        const ok = await at('POST', '/reauthenticate', { token: b.token, json: { password: PASSWORD } });
        expect(ok.status).toBe(200);
        expect(typeof ok.body.authenticatedAtMs).toBe('number');
        expect((await at('POST', '/change-password', { token: b.token, json: { newPassword: 'short' } })).status).toBe(
          400,
        );
        const changed = await at('POST', '/change-password', {
          token: b.token,
          json: { newPassword: 'a new long password' },
        });
        expect(changed.status).toBe(200);
        expect(changed.body).toEqual({ loggedOutDevices: 1 });
        expect((await at('GET', '/me', { token: a.token })).status).toBe(401);
        expect((await at('GET', '/me', { token: b.token })).status).toBe(200);
        expect((await signIn(PASSWORD)).status).toBe(401);
        const c = (await signIn('a new long password')).body as { token: string };
        expect((await at('POST', '/logout-others', { token: b.token })).status).toBe(204);
        expect((await at('GET', '/me', { token: c.token })).status).toBe(401);
      } finally {
        await stepped.stop();
      }
    });

    it('step-up: logging ANOTHER device out (DELETE /devices/:id) and POST /logout-all need a recent password check; logging yourself out does not', async () => {
      const stepped = await startDemo({ framework, store, stepUpMaxAgeSeconds: 1 });
      try {
        const at = (method: string, path: string, options?: Parameters<typeof call>[3]) =>
          call(stepped.baseUrl, method, path, options);
        const name = freshName('hank');
        expect((await at('POST', '/register', { json: { username: name, password: PASSWORD } })).status).toBe(201);
        const signIn = async (device: string) =>
          (await at('POST', '/login', { json: { username: name, password: PASSWORD, device } })).body as {
            token: string;
            tokenId: string;
          };
        const a = await signIn('a');
        const b = await signIn('b');
        const c = await signIn('c');
        await new Promise((resolve) => setTimeout(resolve, 1100)); // past the 1-second window
        const other = await at('DELETE', `/devices/${a.tokenId}`, { token: b.token });
        expect(other.status).toBe(401);
        expect(other.headers.get('www-authenticate')).toMatch(
          /^Bearer realm="api", error="insufficient_user_authentication", error_description="[^"]+", max_age="1"$/,
        );
        expect(other.body).toMatchObject({ error: 'insufficient_user_authentication', maxAgeSeconds: 1 });
        const all = await at('POST', '/logout-all', { token: b.token });
        expect(all.status).toBe(401);
        expect(all.body).toMatchObject({ error: 'insufficient_user_authentication' });
        expect((await at('GET', '/me', { token: a.token })).status).toBe(200);
        expect((await at('GET', '/me', { token: b.token })).status).toBe(200);
        // Logging the calling device itself out needs no password.
        expect((await at('DELETE', `/devices/${c.tokenId}`, { token: c.token })).status).toBe(204);
        expect((await at('GET', '/me', { token: c.token })).status).toBe(401);
        expect((await at('POST', '/reauthenticate', { token: b.token, json: { password: PASSWORD } })).status).toBe(
          200,
        );
        expect((await at('DELETE', `/devices/${a.tokenId}`, { token: b.token })).status).toBe(204);
        expect((await at('GET', '/me', { token: a.token })).status).toBe(401);
        expect((await at('POST', '/logout-all', { token: b.token })).status).toBe(204);
        expect((await at('GET', '/me', { token: b.token })).status).toBe(401);
      } finally {
        await stepped.stop();
      }
    });

    it('a login with the OLD password in flight while the password changes gets a token that is refused (password version)', async () => {
      let holdCreate: Promise<void> | null = null;
      let createHeld: () => void = () => {};
      const reached = new Promise<void>((resolve) => {
        createHeld = resolve;
      });
      const raced = await startDemo({
        framework,
        store,
        beforeTokenCall: async (operation) => {
          if (operation === 'create' && holdCreate) {
            const held = holdCreate;
            holdCreate = null;
            createHeld();
            await held;
          }
        },
      });
      try {
        const at = (method: string, path: string, options?: Parameters<typeof call>[3]) =>
          call(raced.baseUrl, method, path, options);
        const name = freshName('ivy');
        expect((await at('POST', '/register', { json: { username: name, password: PASSWORD } })).status).toBe(201);
        const owner = (await at('POST', '/login', { json: { username: name, password: PASSWORD, device: 'owner' } }))
          .body as { token: string };
        // The attacker's login with the old password: the password check passes, then its create is held.
        let release: () => void = () => {};
        holdCreate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const inFlight = at('POST', '/login', { json: { username: name, password: PASSWORD, device: 'attacker' } });
        await reached;
        const changed = await at('POST', '/change-password', {
          token: owner.token,
          json: { newPassword: 'a new long password' },
        });
        expect(changed.status).toBe(200);
        release();
        const late = await inFlight;
        expect(late.status).toBe(200); // the token is created (after revokeOthers ran)...
        const refused = await at('GET', '/me', { token: late.body.token });
        expect(refused.status).toBe(401); // ...but refused: it comes from a login with the old password
        expect(refused.body).toMatchObject({ error: 'invalid_token' });
        expect((await at('GET', '/me', { token: late.body.token })).status).toBe(401);
        // The device that changed the password stays logged in; a login with the new password works.
        expect((await at('GET', '/me', { token: owner.token })).status).toBe(200);
        const fresh = await at('POST', '/login', {
          json: { username: name, password: 'a new long password', device: 'new' },
        });
        expect((await at('GET', '/me', { token: fresh.body.token })).status).toBe(200);
        expect((await at('GET', '/me', { token: owner.token })).status).toBe(200);
      } finally {
        await raced.stop();
      }
    });

    it('a wrong password or an unknown user gets 401 JSON, the same answer for both', async () => {
      const name = freshName('erin');
      await register(name);
      const wrong = await api('POST', '/login', { json: { username: name, password: 'not the password' } });
      const unknown = await api('POST', '/login', { json: { username: freshName('nobody'), password: PASSWORD } });
      for (const res of [wrong, unknown]) {
        expect(res.status).toBe(401);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(res.body).toEqual({ error: 'invalid_credentials', message: 'wrong username or password' });
        expect(res.body).not.toHaveProperty('token');
      }
    });

    it('malformed JSON gets 400 JSON, never an HTML page or a stack trace', async () => {
      for (const raw of ['{"username": "x",', 'not json', '{"a":1}}', '"just a string"']) {
        const res = await api('POST', '/login', { raw });
        expect(res.status, raw).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(res.body.error).toMatch(/^invalid_(json|request)$/);
        expect(res.text).not.toMatch(/<html|<pre|at .*\(.*:\d+:\d+\)|node_modules/i);
      }
      expect(demo.errors).toEqual([]);
    });

    it('the same 400 body on every framework: valid JSON that is not an object gets the validation answer, broken JSON invalid_json', async () => {
      for (const [raw, type] of [
        ['null', 'null'],
        ['"just a string"', 'string'],
        ['42', 'number'],
        ['true', 'boolean'],
      ]) {
        for (const path of ['/login', '/register']) {
          const res = await api('POST', path, { raw });
          expect(res.status, `${path} ${raw}`).toBe(400);
          expect(res.headers.get('content-type')).toMatch(/^application\/json/);
          const message = `Invalid input: expected object, received ${type}`;
          expect(res.body, `${path} ${raw}`).toEqual({
            error: 'invalid_request',
            message,
            issues: [{ path: '', message }],
          });
        }
      }
      for (const raw of ['{"username": "x",', 'not json', '{"a":1}}']) {
        const res = await api('POST', '/login', { raw });
        expect([res.status, res.body], raw).toEqual([
          400,
          { error: 'invalid_json', message: 'the request body is not valid JSON' },
        ]);
      }
      expect(demo.errors).toEqual([]);
    });

    it('missing or invalid fields get 400 JSON naming them', async () => {
      const cases: [string, unknown, string][] = [
        ['/login', {}, 'username'],
        ['/login', { username: 'x' }, 'password'],
        ['/login', { username: 'x', password: 42 }, 'password'],
        ['/login', { username: 'x', password: 'y', device: ['laptop'] }, 'device'],
        ['/register', { username: 'ab', password: PASSWORD }, 'username'],
        ['/register', { username: 'ok-name', password: 'short' }, 'password'],
        ['/register', { username: 'bad name!', password: PASSWORD }, 'username'],
        ['/register', [], ''],
      ];
      for (const [path, json, field] of cases) {
        const res = await api('POST', path, { json });
        expect(res.status, JSON.stringify(json)).toBe(400);
        expect(res.body.error).toBe('invalid_request');
        expect(
          res.body.issues.map((i: { path: string }) => i.path),
          JSON.stringify(json),
        ).toContain(field);
      }
      // A body that is not JSON at all (a form post) is a 400 too, not a crash.
      const form = await api('POST', '/login', {
        raw: 'username=x&password=y',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      expect(form.status).toBe(400);
      expect(form.body.error).toBe('invalid_request');
    });

    it('no, garbage or unknown-scheme Authorization gets 401 JSON with WWW-Authenticate', async () => {
      const cases: (Record<string, string> | undefined)[] = [
        undefined,
        { Authorization: 'Bearer garbage' },
        { Authorization: `Bearer rmt_${'A'.repeat(60)}` },
        { Authorization: 'Basic ZGVtbzpkZW1v' },
        { Authorization: 'Bearer' },
      ];
      for (const path of ['/me', '/devices']) {
        for (const headers of cases) {
          const res = await api('GET', path, { headers });
          expect(res.status, JSON.stringify(headers)).toBe(401);
          expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="api"/);
          expect(res.headers.get('content-type')).toMatch(/^application\/json/);
          expect(res.body).toMatchObject({ error: expect.any(String), reason: expect.any(String) });
        }
      }
      for (const [method, path] of [
        ['POST', '/logout'],
        ['POST', '/logout-all'],
        ['POST', '/logout-others'],
        ['DELETE', '/devices/x'],
      ] as const) {
        const res = await api(method, path);
        expect(res.status, path).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="api"');
      }
    });

    it('a login with a DPoP proof gets a bound token (DPoP only, shown in /devices); a bad proof gets 400 invalid_dpop_proof', async () => {
      const { username } = await register(freshName('dpop'));
      const key = await DpopClient.create('ES256');
      const res = await api('POST', '/login', {
        json: { username, password: PASSWORD, device: 'bound' },
        headers: { DPoP: await key.proof('POST', `${demo.baseUrl}/login`) },
      });
      expect(res.status, res.text).toBe(200);
      expect(res.body.tokenType).toBe('DPoP');
      const token = res.body.token as string;
      expect((await api('GET', '/me', { token })).status).toBe(401);
      const devices = await api('GET', '/devices', {
        headers: { Authorization: `DPoP ${token}`, DPoP: await key.proof('GET', `${demo.baseUrl}/devices`, token) },
      });
      expect(devices.status, devices.text).toBe(200);
      expect(devices.body.devices[0].jkt).toBe(key.jkt);
      const bad = await api('POST', '/login', {
        json: { username, password: PASSWORD },
        headers: { DPoP: await key.proof('GET', `${demo.baseUrl}/login`) },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toBe('invalid_dpop_proof');
      expect(((await login(username, 'plain')) as { tokenType?: string }).tokenType).toBe('Bearer');
    });

    it("a deleted user's token gets 401", async () => {
      const name = freshName('frank');
      const user = await register(name);
      const t = await login(name, 'laptop');
      expect(demo.db.deleteUser(user.id)).toBe(true);
      const res = await api('GET', '/me', { token: t.token });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ reason: 'user_not_found' });
    });

    it('unknown routes get 404 JSON', async () => {
      for (const [method, path] of [
        ['GET', '/nope'],
        ['POST', '/me'],
        ['GET', '/devices/x/y'],
      ] as const) {
        const res = await api(method, path);
        expect(res.status, path).toBe(404);
        expect(res.body).toEqual({ error: 'not_found', message: 'no such route' });
      }
    });

    it('a malformed %-escape in the path gets 400 JSON, not a 500', async () => {
      const name = freshName('Esc');
      await register(name);
      const { token } = await login(name, 'laptop');
      const res = await api('DELETE', '/devices/%E0%A4%A', { token });
      expect(res.status, res.text).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request' });
      const whole = await api('DELETE', `/devices/${token}`, { token });
      expect(whole.status, whole.text).toBe(400);
    });

    it('a login over the device limit gets 409 JSON when the app configures reject', async () => {
      const limited = await startDemo({
        framework,
        store,
        tokenOptions: { maxTokensPerUser: 2, limitPolicy: 'reject' },
      });
      try {
        const l = (device: string) =>
          call(limited.baseUrl, 'POST', '/login', { json: { username: 'limited', password: PASSWORD, device } });
        expect(
          (await call(limited.baseUrl, 'POST', '/register', { json: { username: 'limited', password: PASSWORD } }))
            .status,
        ).toBe(201);
        const first = await l('a');
        expect((await l('b')).status).toBe(200);
        const third = await l('c');
        expect(third.status).toBe(409);
        expect(third.body).toMatchObject({ error: 'too_many_devices', limit: 2 });
        // After logging one device out there is room again.
        expect((await call(limited.baseUrl, 'POST', '/logout', { token: first.body.token })).status).toBe(204);
        expect((await l('c')).status).toBe(200);
      } finally {
        await limited.stop();
      }
    });
  });

  describe('demo API failures', () => {
    it('a token store that cannot be reached gives 503 JSON with Retry-After, on login and on authenticated routes', async () => {
      // Port 1 on loopback: nothing listens there, so every Redis call fails at once.
      const demo = await startDemo({ framework, store: 'redis', redisUrl: 'redis://127.0.0.1:1' });
      try {
        expect(
          (await call(demo.baseUrl, 'POST', '/register', { json: { username: 'gina', password: PASSWORD } })).status,
        ).toBe(201);
        const login = await call(demo.baseUrl, 'POST', '/login', { json: { username: 'gina', password: PASSWORD } });
        expect(login.status, login.text).toBe(503);
        expect(login.headers.get('retry-after')).toBe('1');
        expect(login.body).toMatchObject({ error: 'service_unavailable' });
        const me = await call(demo.baseUrl, 'GET', '/me', {
          token: 'rmt_6b86b273kind5FntlMJiNnZWLEv8upYpB2FxXselUtFdeFWkrT2snjUJBt2VrKe6Fnb1ShqlY',
        });
        expect(me.status, me.text).toBe(503);
        expect(me.headers.get('retry-after')).toBe('1');
        const health = await call(demo.baseUrl, 'GET', '/health');
        expect(health.status, health.text).toBe(503);
        expect(demo.errors).toEqual([]);
      } finally {
        await demo.stop();
      }
    });

    it('an unexpected error gives 500 JSON without a stack trace, and is logged', async () => {
      const demo = await startDemo({ framework, store: 'memory' });
      try {
        demo.db.checkCredentials = async () => {
          throw new Error('database on fire');
        };
        const res = await call(demo.baseUrl, 'POST', '/login', { json: { username: 'x', password: 'y' } });
        expect(res.status).toBe(500);
        expect(res.body).toEqual({ error: 'internal_error', message: 'internal server error' });
        expect(res.text).not.toContain('database on fire');
        expect(demo.errors).toHaveLength(1);
      } finally {
        await demo.stop();
      }
    });
  });

  describe('demo page', () => {
    let demo: RunningDemo;
    beforeAll(async () => {
      demo = await startDemo({ framework, store: 'memory' });
    });
    afterAll(async () => {
      await demo?.stop();
    });

    it('GET / serves the devices page with a Content-Security-Policy that allows no inline script', async () => {
      const res = await call(demo.baseUrl, 'GET', '/', { headers: { Accept: 'text/html' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res.text).toContain('<script type="module" src="/app.js"></script>');
      expect(res.text).not.toMatch(/<script>|<script type="module">|\son[a-z]+=|style=/i);
      for (const [file, type] of [
        ['/app.js', /javascript/],
        ['/format.js', /javascript/],
        ['/dpop.js', /javascript/],
        ['/style.css', /text\/css/],
      ] as const) {
        const asset = await call(demo.baseUrl, 'GET', file);
        expect(asset.status, file).toBe(200);
        expect(asset.headers.get('content-type'), file).toMatch(type);
      }
    });
  });
});

describe('DEMO_FRAMEWORK', () => {
  it('an unknown value stops the demo with one readable line and exit code 2', async () => {
    const { spawnSync } = await import('node:child_process');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'demo/server.ts'], {
      env: { ...process.env, DEMO_FRAMEWORK: 'rails', PORT: '0', SQLITE_PATH: ':memory:', REDIS_URL: '' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([
      'DEMO_FRAMEWORK must be one of express, fastify, koa, hono, nestjs; got "rails"',
    ]);
  });
});
