// The devices page: log in, list this account's devices, log any of them out. Plain DOM, no framework.
import { dpopAvailable, dpopProof } from './dpop.js';
import { browserLabel, relativeTime } from './format.js';

// The token is kept in sessionStorage: it is per tab (each tab logs in as its own "device", which is what
// this demo wants to show) and it is gone when the tab closes. This is a demo: any script running on the
// page could read it, so a real app guards against XSS (this page's CSP allows no inline script) or uses a
// cookie-based session for browsers and keeps bearer tokens for API clients.
//
// The token is also bound to this browser's key (DPoP, RFC 9449; see dpop.js) when the browser can sign:
// every request then carries a fresh proof, and the token alone, copied out of sessionStorage, gets 401.
const TOKEN_KEY = 'redis-multitokens-demo:token';
const TOKEN_TYPE_KEY = 'redis-multitokens-demo:token-type';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const loginView = $('login-view');
const devicesView = $('devices-view');
const loginForm = /** @type {HTMLFormElement} */ ($('login-form'));
const message = $('message');
const list = $('devices');
const logoutOthers = /** @type {HTMLButtonElement} */ ($('logout-others'));
const passwordForm = /** @type {HTMLFormElement} */ ($('password-form'));
const reauthView = $('reauth-view');
const reauthForm = /** @type {HTMLFormElement} */ ($('reauth-form'));

class ApiError extends Error {
  /** @param {number} status @param {string} message @param {string | undefined} code the body's `error` */
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The server's answer for a sensitive action whose login is too old (RFC 9470 step-up). */
const STEP_UP = 'insufficient_user_authentication';
/** The code of the error a Cancel at the password prompt ends its action with (said as is, not as a failure). */
const CANCELLED = 'cancelled';

/** Calls the demo API with this tab's token; resolves to the JSON body (null for 204). */
async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  const bound = sessionStorage.getItem(TOKEN_TYPE_KEY) === 'DPoP';
  if (token) headers.Authorization = `${bound ? 'DPoP' : 'Bearer'} ${token}`;
  // A proof on every bound request (with the token's hash), and on the login (it binds the new token).
  if ((token && bound) || (!token && path === '/login' && dpopAvailable()))
    headers.DPoP = await dpopProof(method, path, token);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'the server cannot be reached (network error): check your connection and try again');
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data?.message ?? `The server answered ${res.status}.`, data?.error);
  return data;
}

function showMessage(text, kind = 'info') {
  message.textContent = text;
  message.className = kind;
  message.hidden = !text;
}

function showLogin(text, kind = 'info') {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(TOKEN_TYPE_KEY);
  list.replaceChildren();
  devicesView.hidden = true;
  reauthView.hidden = true;
  loginView.hidden = false;
  showMessage(text, kind);
  loginForm.elements.namedItem('username').focus();
}

/**
 * Shows the password form and sends the password to POST /reauthenticate (asking again after a wrong
 * one); resolves once the server has renewed this device's login, rejects on Cancel or another failure.
 */
function confirmPassword() {
  const input = reauthForm.elements.namedItem('password');
  const cancel = $('reauth-cancel');
  reauthView.hidden = false;
  // The action that asked is still running (busy() disabled every control): this form is what it waits for.
  for (const c of reauthForm.querySelectorAll('button, input')) c.disabled = false;
  input.value = '';
  input.focus();
  return new Promise((resolve, reject) => {
    const finish = (settle) => {
      reauthForm.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      reauthView.hidden = true;
      input.value = '';
      settle();
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      try {
        await api('POST', '/reauthenticate', { password: input.value });
        finish(resolve);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 403)) return finish(() => reject(error));
        showMessage(error.message, 'error'); // a wrong password: ask again
        input.value = '';
        input.focus();
      }
    };
    const onCancel = () => finish(() => reject(new ApiError(0, 'Cancelled: nothing was changed.', CANCELLED)));
    reauthForm.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
  });
}

/** Runs a sensitive action; when the server asks for a more recent login (step-up), asks for the password, then retries once. */
async function withStepUp(action) {
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof ApiError && error.code === STEP_UP)) throw error;
    showMessage('Please confirm your password to continue.');
    await confirmPassword();
    return action();
  }
}

/**
 * Every failed call ends here: a 401 means this tab's token is no longer valid (but for a step-up
 * answer); anything else is shown as "<what failed>: <why>", why being the server's own message or the
 * network failure.
 */
function fail(error, what = 'That did not work') {
  if (error instanceof ApiError && error.code === CANCELLED) {
    showMessage(error.message);
  } else if (
    error instanceof ApiError &&
    error.status === 401 &&
    error.code !== STEP_UP &&
    sessionStorage.getItem(TOKEN_KEY)
  ) {
    showLogin(
      'You have been logged out on this device (the token was revoked or expired). Please log in again.',
      'error',
    );
  } else {
    showMessage(`${what}: ${error instanceof ApiError ? error.message : 'something went wrong'}`, 'error');
  }
}

/** The controls a running action disables (every button and the login form's fields). */
const controls = () => document.querySelectorAll('main button, #login-form input');

/**
 * Runs a slow action: the page is busy (aria-busy), every control is disabled, the clicked button says
 * what is happening ("Logging in…") and so does the status line, until the action ends. Failures go to
 * fail() with `failure` as what failed.
 */
async function busy(button, action, { progress = 'Working…', failure } = {}) {
  const disabled = [...controls()].filter((c) => !c.disabled);
  const label = button.textContent;
  for (const c of disabled) c.disabled = true;
  document.querySelector('main').setAttribute('aria-busy', 'true');
  button.setAttribute('aria-busy', 'true');
  button.textContent = progress;
  showMessage(progress, 'progress');
  try {
    await action();
    if (message.className === 'progress') showMessage('');
  } catch (error) {
    fail(error, failure);
  } finally {
    for (const c of disabled) c.disabled = false;
    document.querySelector('main').removeAttribute('aria-busy');
    button.removeAttribute('aria-busy');
    button.textContent = label;
  }
}

function deviceRow(device) {
  const li = document.createElement('li');
  li.className = device.current ? 'device current' : 'device';
  li.dataset.tokenId = device.tokenId;

  const info = document.createElement('div');
  const name = document.createElement('div');
  name.className = 'name';
  const label = device.deviceName || 'Unnamed device';
  name.textContent = label;
  if (device.current) {
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = 'this device';
    name.append(badge);
  }
  if (device.jkt) {
    const badge = document.createElement('span');
    badge.className = 'badge bound';
    badge.textContent = 'key-bound';
    badge.title = "This device's token only works with a key that never leaves the device (DPoP).";
    name.append(badge);
  }
  const meta = document.createElement('div');
  meta.className = 'meta';
  const used = document.createElement('time');
  used.dateTime = new Date(device.lastUsedAtMs).toISOString();
  used.title = new Date(device.lastUsedAtMs).toLocaleString();
  used.dataset.ms = String(device.lastUsedAtMs);
  used.textContent = relativeTime(device.lastUsedAtMs);
  meta.append(`${browserLabel(device.userAgent)} · ${device.ip ?? 'unknown IP'} · last used `, used);
  info.append(name, meta);

  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'danger';
  button.textContent = 'Log out';
  button.setAttribute('aria-label', device.current ? 'Log out this device' : `Log out ${label}`);
  button.addEventListener('click', () =>
    busy(
      button,
      device.current
        ? logOutHere
        : async () => {
            // Another device: behind step-up, so a stale session asks for the password first.
            await withStepUp(() => api('DELETE', `/devices/${encodeURIComponent(device.tokenId)}`));
            await refresh(`Logged out ${label}.`);
          },
      { progress: 'Logging out…', failure: `Could not log out ${label}` },
    ),
  );
  li.append(info, button);
  return li;
}

function render(devices) {
  list.replaceChildren(...devices.map(deviceRow));
  logoutOthers.hidden = devices.length < 2;
}

/** Loads the user and the devices list; `note` is shown once it has loaded. */
async function refresh(note = '') {
  const [me, body] = await Promise.all([api('GET', '/me'), api('GET', '/devices')]);
  $('username').textContent = me.user.username;
  render(body.devices);
  loginView.hidden = true;
  devicesView.hidden = false;
  showMessage(note);
}

async function logOutHere() {
  await api('POST', '/logout');
  showLogin('You are logged out on this device; your other devices stay logged in.');
}

loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(loginForm);
  busy(
    loginForm.querySelector('button'),
    async () => {
      const { token, tokenType } = await api('POST', '/login', {
        username: String(form.get('username')),
        password: String(form.get('password')),
        device: String(form.get('device') ?? '') || null,
      });
      sessionStorage.setItem(TOKEN_KEY, token);
      sessionStorage.setItem(TOKEN_TYPE_KEY, tokenType === 'DPoP' ? 'DPoP' : 'Bearer');
      loginForm.elements.namedItem('password').value = '';
      await refresh();
    },
    { progress: 'Logging in…', failure: 'Could not log in' },
  );
});

$('refresh').addEventListener('click', (event) =>
  busy(event.currentTarget, () => refresh(), { progress: 'Refreshing…', failure: 'Could not refresh the list' }),
);

logoutOthers.addEventListener('click', () =>
  busy(
    logoutOthers,
    async () => {
      await withStepUp(() => api('POST', '/logout-others'));
      await refresh('Logged out every other device.');
    },
    { progress: 'Logging out other devices…', failure: 'Could not log out the other devices' },
  ),
);

passwordForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const newPassword = String(new FormData(passwordForm).get('newPassword'));
  busy(passwordForm.querySelector('button'), async () => {
    const { loggedOutDevices } = await withStepUp(() => api('POST', '/change-password', { newPassword }));
    passwordForm.reset();
    await refresh(`Password changed. Logged out ${loggedOutDevices} other device${loggedOutDevices === 1 ? '' : 's'}.`);
  });
});

// Keep "5 minutes ago" true without asking the server.
setInterval(() => {
  for (const time of list.querySelectorAll('time')) time.textContent = relativeTime(Number(time.dataset.ms));
}, 30_000);

if (sessionStorage.getItem(TOKEN_KEY)) refresh().catch((error) => fail(error, 'Could not load your devices'));
else showLogin('');
