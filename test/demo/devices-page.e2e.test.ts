/**
 * The devices page in a real browser (Debian's chromium driven by playwright-core; never downloaded):
 * one user logged in from two browser contexts (two devices); the first logs the second out, and the
 * second's next request gets 401 and shows the login form. The page binds its tokens to a
 * non-extractable WebCrypto key (DPoP, RFC 9449): a token (and a proof) copied out of the page and
 * replayed from Node gets 401 while the page keeps working. Step-up (RFC 9470): on a demo whose window is
 * 1 second, "Log out other devices", "Change password" and logging out another device ask for the password, then go through.
 * Slow actions show progress and failures say what failed: the server is slowed down by holding its
 * token calls (the harness's `beforeTokenCall` hook) until the test has looked at the page, never by sleeping.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from 'redis-multitokens';
import { DpopClient } from '../../src/testing/index.js';
import { call, startDemo, type HookedOperation, type RunningDemo } from './harness.js';

function findChromium(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed: apt-get install -y chromium (or set CHROMIUM_PATH)');
  }
}

const USER = { username: 'pat', password: 'pat-password-123' };
// An iPhone's Safari, so the first device's list shows a parsed label for the second one.
const IPHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';

const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'curl/8.5.0',
  'node',
  null,
];

interface Device {
  context: BrowserContext;
  page: Page;
  /** Requests leaving 127.0.0.1, console errors, page errors. */
  problems: string[];
  /** Console errors a test expects (a failed request it caused on purpose), besides the handled 401s. */
  expectedConsole: RegExp[];
}

/**
 * One held token call of the demo server: the next call of `operation` waits, once the server reached
 * it (`reached`), until the test lets it go on (`release`) or fail with an error (`fail`).
 */
interface Hold {
  operation: HookedOperation;
  reached: Promise<void>;
  release(): void;
  fail(error: Error): void;
}

describe('devices page (chromium)', () => {
  let demo: RunningDemo;
  let browser: Browser;
  // Two devices of one user; the tests run in order and share them (a browser context costs ~1 s here).
  let laptop: Device;
  let phone: Device;
  let holds: { operation: HookedOperation; arrive: () => void; until: Promise<void> }[] = [];

  /** Holds the server's next `operation` call (see {@link Hold}). */
  function hold(operation: HookedOperation): Hold {
    let arrive!: () => void;
    let settle!: (error?: Error) => void;
    const reached = new Promise<void>((r) => (arrive = r));
    const until = new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
    until.catch(() => undefined);
    holds.push({ operation, arrive, until });
    return { operation, reached, release: () => settle(), fail: (error) => settle(error) };
  }

  beforeAll(async () => {
    [demo, browser] = await Promise.all([
      startDemo({
        store: 'memory',
        beforeTokenCall: async (operation) => {
          const i = holds.findIndex((h) => h.operation === operation);
          if (i < 0) return;
          const [h] = holds.splice(i, 1);
          h!.arrive();
          await h!.until;
        },
      }),
      chromium.launch({
        executablePath: findChromium(),
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-quic',
          '--no-first-run',
          '--disable-component-update',
          '--disable-sync',
        ],
      }),
    ]);
    expect((await call(demo.baseUrl, 'POST', '/register', { json: USER })).status).toBe(201);
    [laptop, phone] = await Promise.all([device(), device({ userAgent: IPHONE_UA })]);
  });
  afterEach(() => {
    expect(holds, 'every hold was reached').toEqual([]);
    holds = [];
    expect([...laptop.problems, ...phone.problems]).toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  /** A new browser context (a device) that records requests leaving 127.0.0.1 and console errors as problems. */
  async function device(options: { userAgent?: string } = {}, baseUrl = demo.baseUrl): Promise<Device> {
    const context = await browser.newContext({ ...options, viewport: { width: 900, height: 640 } });
    const problems: string[] = [];
    const expectedConsole: RegExp[] = [];
    const page = await context.newPage();
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.hostname !== '127.0.0.1' && url.protocol !== 'data:') problems.push(`request to ${url.href}`);
    });
    page.on('console', (msg) => {
      // The 401 answers the page handles show up as failed-resource console errors; anything else is a problem.
      // (and the 403 of a wrong password at the step-up prompt).
      if (msg.type() === 'error' && ![/status of 40[13]/, ...expectedConsole].some((re) => re.test(msg.text())))
        problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(`${baseUrl}/`);
    return { context, page, problems, expectedConsole };
  }

  async function logIn(page: Page, deviceName: string, password = USER.password) {
    await expect.poll(() => page.locator('#login-view').isVisible()).toBe(true);
    await page.getByLabel('Username').fill(USER.username);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Device name').fill(deviceName);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#devices-view').waitFor({ state: 'visible' });
  }

  const rows = (page: Page) => page.locator('#devices li');

  it('logs out another device, whose next request returns it to the login form', async () => {
    await logIn(laptop.page, 'Laptop');
    await logIn(phone.page, 'Phone');
    await laptop.page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => rows(laptop.page).count()).toBe(2);

    // The laptop sees both, newest first, its own marked "this device".
    const [phoneRow, laptopRow] = [rows(laptop.page).nth(0), rows(laptop.page).nth(1)];
    expect(await laptop.page.locator('#username').textContent()).toBe(USER.username);
    expect(await phoneRow.locator('.name').textContent()).toBe('Phonekey-bound');
    expect(await phoneRow.locator('.meta').textContent()).toMatch(
      /^Safari on iOS · 127\.0\.0\.1 · last used just now$/,
    );
    expect(await laptopRow.locator('.name').textContent()).toBe('Laptopthis devicekey-bound');
    expect(await laptopRow.locator('.badge:not(.bound)').textContent()).toBe('this device');
    expect(await laptopRow.locator('.badge.bound').textContent()).toBe('key-bound');
    expect(await laptopRow.locator('.meta').textContent()).toMatch(
      /^Chrome on Linux · 127\.0\.0\.1 · last used just now$/,
    );
    expect(await laptop.page.getByRole('button', { name: 'Log out other devices' }).isVisible()).toBe(true);
    await laptop.page.screenshot({ path: '/tmp/devices-page.png', fullPage: true });

    // Log the phone out from the laptop.
    await laptop.page.getByRole('button', { name: 'Log out Phone' }).click();
    await expect.poll(() => rows(laptop.page).count()).toBe(1);
    expect(await laptop.page.locator('#message').textContent()).toBe('Logged out Phone.');
    expect(await laptop.page.getByRole('button', { name: 'Log out other devices' }).isVisible()).toBe(false);

    // The phone's next request (a reload, which reads its token from sessionStorage) gets 401: login form.
    await phone.page.reload();
    await phone.page.locator('#login-view').waitFor({ state: 'visible' });
    expect(await phone.page.locator('#devices-view').isVisible()).toBe(false);
    expect(await phone.page.locator('#message').textContent()).toMatch(/logged out on this device/i);
    expect(await phone.page.evaluate('sessionStorage.length')).toBe(0);

    // The laptop still works, and "Log out" on its own row ends its session too.
    await laptop.page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => rows(laptop.page).count()).toBe(1);
    await laptop.page.getByRole('button', { name: 'Log out this device' }).click();
    await laptop.page.locator('#login-view').waitFor({ state: 'visible' });
    expect(await laptop.page.locator('#message').textContent()).toMatch(/other devices stay logged in/);
  });

  it('"Log out other devices" and a wrong password', async () => {
    const [a, b] = [laptop, phone];
    await logIn(a.page, 'A');
    await logIn(b.page, 'B');

    await b.page.getByRole('button', { name: 'Log out other devices' }).click();
    await expect.poll(() => b.page.locator('#message').textContent()).toBe('Logged out every other device.');
    expect(await rows(b.page).count()).toBe(1);

    // A's refresh gets 401 and its login form; a wrong password there shows the server's message.
    await a.page.getByRole('button', { name: 'Refresh' }).click();
    await a.page.locator('#login-view').waitFor({ state: 'visible' });
    await a.page.getByLabel('Username').fill(USER.username);
    await a.page.getByLabel('Password', { exact: true }).fill('wrong password');
    await a.page.getByRole('button', { name: 'Log in' }).click();
    await expect
      .poll(() => a.page.locator('#message').textContent())
      .toBe('Could not log in: wrong username or password');
    expect(await a.page.locator('#login-view').isVisible()).toBe(true);
  });

  it('a token copied out of the page (with a proof the page sent) gets 401 from Node; the page keeps working', async () => {
    const { page } = laptop;
    const sentProofs: string[] = [];
    page.on('request', (request) => {
      const proof = request.headers().dpop;
      if (proof && new URL(request.url()).pathname === '/devices') sentProofs.push(proof);
    });
    await logIn(page, 'Bound laptop');
    await expect.poll(() => sentProofs.length).toBeGreaterThan(0);
    // What an XSS or a look at the storage gets: the token (and, from a log, a proof the page sent).
    const token = (await page.evaluate('sessionStorage.getItem("redis-multitokens-demo:token")')) as string;
    expect(await page.evaluate('sessionStorage.getItem("redis-multitokens-demo:token-type")')).toBe('DPoP');
    expect(token).toMatch(/^rmt_/);
    // The key itself cannot be read out of the page: non-extractable in IndexedDB.
    const key = (await page.evaluate(`(async () => {
      const db = await new Promise((ok, ko) => { const r = indexedDB.open('redis-multitokens-demo'); r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
      const pair = await new Promise((ok) => { const r = db.transaction('keys').objectStore('keys').get('dpop-device-key'); r.onsuccess = () => ok(r.result); });
      let exported = 'yes';
      try { await crypto.subtle.exportKey('jwk', pair.privateKey); } catch { exported = 'refused'; }
      return { extractable: pair.privateKey.extractable, algorithm: pair.privateKey.algorithm.name, exported };
    })()`)) as { extractable: boolean; algorithm: string; exported: string };
    expect(key).toEqual({ extractable: false, algorithm: 'ECDSA', exported: 'refused' });

    // Replayed from Node (as curl would): as Bearer, as DPoP without a proof, with the attacker's own key,
    // and with the proof copied from the page's request: each 401.
    const thief = await DpopClient.create('ES256');
    const attempts: [string, Record<string, string>][] = [
      ['Bearer', { Authorization: `Bearer ${token}` }],
      ['DPoP without a proof', { Authorization: `DPoP ${token}` }],
      [
        "DPoP with the attacker's key",
        { Authorization: `DPoP ${token}`, DPoP: await thief.proof('GET', `${demo.baseUrl}/devices`, token) },
      ],
      ['DPoP with the copied proof', { Authorization: `DPoP ${token}`, DPoP: sentProofs[0]! }],
    ];
    for (const [where, headers] of attempts) {
      const r = await call(demo.baseUrl, 'GET', '/devices', { headers });
      expect(r.status, where).toBe(401);
      expect(r.headers.get('www-authenticate'), where).toMatch(
        /^DPoP realm="api", error="(invalid_token|invalid_dpop_proof)"/,
      );
    }

    // The page itself keeps working with the same token.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.locator('#devices li.current').count()).toBe(1);
    expect(await page.locator('#devices-view').isVisible()).toBe(true);
    expect(await page.locator('#devices li.current .badge.bound').textContent()).toBe('key-bound');
    await page.getByRole('button', { name: 'Log out this device' }).click();
    await page.locator('#login-view').waitFor({ state: 'visible' });
  });

  it('step-up: "Log out other devices", "Change password" and logging out another device ask for the password when the login is too old, then go through', async () => {
    const stepped = await startDemo({ store: 'memory', stepUpMaxAgeSeconds: 1 });
    const devices: Device[] = [];
    try {
      expect((await call(stepped.baseUrl, 'POST', '/register', { json: USER })).status).toBe(201);
      const [a, b] = await Promise.all([
        device({}, stepped.baseUrl),
        device({ userAgent: IPHONE_UA }, stepped.baseUrl),
      ]);
      devices.push(a, b);
      await logIn(a.page, 'A');
      await logIn(b.page, 'B');
      await b.page.getByRole('button', { name: 'Refresh' }).click();
      await expect.poll(() => rows(b.page).count()).toBe(2);
      await b.page.waitForTimeout(1100); // B's login is now older than the 1-second window

      // "Log out other devices": the server answers insufficient_user_authentication, the page asks for the password.
      await b.page.getByRole('button', { name: 'Log out other devices' }).click();
      await b.page.locator('#reauth-view').waitFor({ state: 'visible' });
      expect(await b.page.locator('#message').textContent()).toBe('Please confirm your password to continue.');
      expect(await rows(b.page).count()).toBe(2);
      await b.page.getByLabel('Current password').fill('not the password');
      await b.page.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => b.page.locator('#message').textContent()).toBe('wrong password');
      expect(await b.page.locator('#reauth-view').isVisible()).toBe(true);
      await b.page.getByLabel('Current password').fill(USER.password);
      await b.page.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => b.page.locator('#message').textContent()).toBe('Logged out every other device.');
      expect(await b.page.locator('#reauth-view').isVisible()).toBe(false);
      expect(await rows(b.page).count()).toBe(1);
      await a.page.getByRole('button', { name: 'Refresh' }).click();
      await a.page.locator('#login-view').waitFor({ state: 'visible' });

      // "Change password" once the window has passed again: asked, confirmed, A logged out again.
      await logIn(a.page, 'A again');
      await b.page.waitForTimeout(1100);
      await b.page.getByLabel('New password').fill('a brand new password');
      await b.page.getByRole('button', { name: 'Change password' }).click();
      await b.page.locator('#reauth-view').waitFor({ state: 'visible' });
      await b.page.getByLabel('Current password').fill(USER.password);
      await b.page.getByRole('button', { name: 'Confirm' }).click();
      await expect
        .poll(() => b.page.locator('#message').textContent())
        .toBe('Password changed. Logged out 1 other device.');
      expect(await rows(b.page).count()).toBe(1);
      await a.page.getByRole('button', { name: 'Refresh' }).click();
      await a.page.locator('#login-view').waitFor({ state: 'visible' });
      await logIn(a.page, 'A third time', 'a brand new password');
      await expect.poll(() => rows(a.page).count()).toBe(2);

      // Cancel leaves everything as it was.
      await a.page.waitForTimeout(1100);
      await a.page.getByRole('button', { name: 'Log out other devices' }).click();
      await a.page.locator('#reauth-view').waitFor({ state: 'visible' });
      await a.page.getByRole('button', { name: 'Cancel' }).click();
      await expect.poll(() => a.page.locator('#message').textContent()).toBe('Cancelled: nothing was changed.');
      expect(await a.page.locator('#devices-view').isVisible()).toBe(true);
      expect(await rows(a.page).count()).toBe(2);

      // "Log out" on ANOTHER device's row is behind step-up too: asked, confirmed, B logged out.
      await a.page.getByRole('button', { name: 'Log out B' }).click();
      await a.page.locator('#reauth-view').waitFor({ state: 'visible' });
      expect(await a.page.locator('#message').textContent()).toBe('Please confirm your password to continue.');
      expect(await rows(a.page).count()).toBe(2);
      await a.page.getByLabel('Current password').fill('a brand new password');
      await a.page.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => a.page.locator('#message').textContent()).toBe('Logged out B.');
      expect(await rows(a.page).count()).toBe(1);
      await b.page.getByRole('button', { name: 'Refresh' }).click();
      await b.page.locator('#login-view').waitFor({ state: 'visible' });
      expect([...a.problems, ...b.problems]).toEqual([]);
    } finally {
      await Promise.all(devices.map((d) => d.context.close()));
      await stepped.stop();
    }
  });

  it('shows progress while logging in and logging a device out, and says what failed (server message, network failure)', async () => {
    const { page } = laptop; // on its login form (the test above); the phone is logged in as "B"
    const busy = () => page.evaluate(`document.querySelector('main').getAttribute('aria-busy')`);
    const message = () => page.locator('#message');

    // Logging in: the server holds the login's create until the page has been looked at.
    const login = hold('create');
    await page.getByLabel('Username').fill(USER.username);
    await page.getByLabel('Password', { exact: true }).fill(USER.password);
    await page.getByLabel('Device name').fill('Laptop');
    await page.getByRole('button', { name: 'Log in' }).click();
    await login.reached;
    const loginButton = page.locator('#login-form button');
    expect(await loginButton.textContent()).toBe('Logging in…');
    expect(await loginButton.isDisabled()).toBe(true);
    expect(await loginButton.getAttribute('aria-busy')).toBe('true');
    expect(await page.getByLabel('Username').isDisabled()).toBe(true);
    expect(await page.getByLabel('Password', { exact: true }).isDisabled()).toBe(true);
    expect(await busy()).toBe('true');
    expect(await message().textContent()).toBe('Logging in…');
    login.release();
    await page.locator('#devices-view').waitFor({ state: 'visible' });
    await expect.poll(() => rows(page).count()).toBe(2);
    expect(await busy()).toBeNull();
    expect(await message().isVisible()).toBe(false);
    expect(await loginButton.textContent()).toBe('Log in');
    expect(await loginButton.isDisabled()).toBe(false);

    // Logging the phone out while the server is held: that button says so, every control is disabled.
    const phoneButton = page.getByRole('button', { name: 'Log out B' });
    const failing = hold('revokeById');
    await phoneButton.click();
    await failing.reached;
    expect(await phoneButton.textContent()).toBe('Logging out…');
    expect(await phoneButton.isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Refresh' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Log out this device' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Log out other devices' }).isDisabled()).toBe(true);
    expect(await message().textContent()).toBe('Logging out…');

    // ...and the store fails: the page shows what failed and the server's own message (a 503).
    laptop.expectedConsole.push(/status of 503/);
    failing.fail(new StoreUnavailableError('the test held the store'));
    await expect
      .poll(() => message().textContent())
      .toBe('Could not log out B: the token store is unavailable; retry shortly');
    expect(await message().getAttribute('class')).toBe('error');
    expect(await phoneButton.isDisabled()).toBe(false);
    expect(await phoneButton.textContent()).toBe('Log out');
    expect(await busy()).toBeNull();
    expect(await rows(page).count()).toBe(2);

    // A network failure (the request never reaches the server) says so.
    laptop.expectedConsole.push(/ERR_CONNECTION_REFUSED|ERR_FAILED/);
    await page.route('**/devices/*', (route) => route.abort('connectionrefused'));
    await phoneButton.click();
    await expect
      .poll(() => message().textContent())
      .toBe('Could not log out B: the server cannot be reached (network error): check your connection and try again');
    expect(await phoneButton.isDisabled()).toBe(false);
    await page.unroute('**/devices/*');

    // Retried with the server back: held once more, then done.
    const retry = hold('revokeById');
    await phoneButton.click();
    await retry.reached;
    expect(await phoneButton.isDisabled()).toBe(true);
    retry.release();
    await expect.poll(() => message().textContent()).toBe('Logged out B.');
    expect(await rows(page).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Refresh' }).isDisabled()).toBe(false);
    await page.screenshot({ path: '/tmp/devices-page-after-retry.png', fullPage: true });
  });

  it('labels user agents and relative times', async () => {
    const { page } = laptop;
    // A string, so the bundler leaves this dynamic import alone: it runs in the page, on the served module.
    const samples = (await page.evaluate(`(async () => {
      const m = await import('/format.js');
      const now = Date.UTC(2025, 0, 15, 12);
      return {
        agents: ${JSON.stringify(AGENTS)}.map(m.browserLabel),
        times: [0, 30, 50, 5 * 60, 3 * 3600, 2 * 86400, 60 * 86400].map((s) => m.relativeTime(now - s * 1000, now)),
      };
    })()`)) as { agents: string[]; times: string[] };
    expect(samples.agents).toEqual([
      'Chrome on Linux',
      'Edge on Windows',
      'Firefox on macOS',
      'Safari on macOS',
      'Chrome on Android',
      'curl',
      'Node.js',
      'Unknown browser',
    ]);
    expect(samples.times).toEqual([
      'just now',
      'just now',
      '1 minute ago',
      '5 minutes ago',
      '3 hours ago',
      '2 days ago',
      'on Nov 16, 2024',
    ]);
  });
});
