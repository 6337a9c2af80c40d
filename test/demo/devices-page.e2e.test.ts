/**
 * The devices page in a real browser (Debian's chromium driven by playwright-core; never downloaded):
 * one user logged in from two browser contexts (two devices); the first logs the second out, and the
 * second's next request gets 401 and shows the login form.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call, startDemo, type RunningDemo } from './harness.js';

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
}

describe('devices page (chromium)', () => {
  let demo: RunningDemo;
  let browser: Browser;
  // Two devices of one user; the tests run in order and share them (a browser context costs ~1 s here).
  let laptop: Device;
  let phone: Device;

  beforeAll(async () => {
    [demo, browser] = await Promise.all([
      startDemo({ store: 'memory' }),
      chromium.launch({
        executablePath: findChromium(),
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
      }),
    ]);
    expect((await call(demo.baseUrl, 'POST', '/register', { json: USER })).status).toBe(201);
    [laptop, phone] = await Promise.all([device(), device({ userAgent: IPHONE_UA })]);
  });
  afterEach(() => {
    expect([...laptop.problems, ...phone.problems]).toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  /** A new browser context (a device) that records requests leaving 127.0.0.1 and console errors as problems. */
  async function device(options: { userAgent?: string } = {}): Promise<Device> {
    const context = await browser.newContext({ ...options, viewport: { width: 900, height: 640 } });
    const problems: string[] = [];
    const page = await context.newPage();
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.hostname !== '127.0.0.1' && url.protocol !== 'data:') problems.push(`request to ${url.href}`);
    });
    page.on('console', (msg) => {
      // The 401 answers the page handles show up as failed-resource console errors; anything else is a problem.
      if (msg.type() === 'error' && !/status of 401/.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(`${demo.baseUrl}/`);
    return { context, page, problems };
  }

  async function logIn(page: Page, deviceName: string) {
    await expect.poll(() => page.locator('#login-view').isVisible()).toBe(true);
    await page.getByLabel('Username').fill(USER.username);
    await page.getByLabel('Password').fill(USER.password);
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
    expect(await phoneRow.locator('.name').textContent()).toBe('Phone');
    expect(await phoneRow.locator('.meta').textContent()).toMatch(/^Safari on iOS · 127\.0\.0\.1 · last used just now$/);
    expect(await laptopRow.locator('.name').textContent()).toBe('Laptopthis device');
    expect(await laptopRow.locator('.badge').textContent()).toBe('this device');
    expect(await laptopRow.locator('.meta').textContent()).toMatch(/^Chrome on Linux · 127\.0\.0\.1 · last used just now$/);
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
    await a.page.getByLabel('Password').fill('wrong password');
    await a.page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => a.page.locator('#message').textContent()).toBe('wrong username or password');
    expect(await a.page.locator('#login-view').isVisible()).toBe(true);
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
    expect(samples.times).toEqual(['just now', 'just now', '1 minute ago', '5 minutes ago', '3 hours ago', '2 days ago', 'on Nov 16, 2024']);
  });
});
