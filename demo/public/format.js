// Display helpers of the devices page, a plain ES module (the e2e test runs them in the browser too).

/** @param {RegExp} re @param {string} ua */
const has = (re, ua) => re.test(ua);

/**
 * A short label for a User-Agent: "Chrome on Linux", "Safari on iOS", "curl". Good enough for a list of
 * devices; not a full user-agent parser.
 * @param {string | null | undefined} ua
 * @returns {string}
 */
export function browserLabel(ua) {
  if (!ua) return 'Unknown browser';
  let browser = null;
  if (has(/\bEdg(?:e|A|iOS)?\//, ua)) browser = 'Edge';
  else if (has(/\bOPR\/|\bOpera\b/, ua)) browser = 'Opera';
  else if (has(/\bSamsungBrowser\//, ua)) browser = 'Samsung Internet';
  else if (has(/\bFirefox\/|\bFxiOS\//, ua)) browser = 'Firefox';
  else if (has(/\bChromium\//, ua)) browser = 'Chromium';
  else if (has(/\bCriOS\/|\b(?:Headless)?Chrome\//, ua)) browser = 'Chrome';
  else if (has(/\bSafari\//, ua) && has(/\bVersion\/|\bMobile\//, ua)) browser = 'Safari';
  else if (has(/^curl\//, ua)) return 'curl';
  else if (has(/^Wget\//, ua)) return 'Wget';
  else if (has(/^PostmanRuntime\//, ua)) return 'Postman';
  else if (has(/^(?:node|undici)\b/, ua)) return 'Node.js';
  else if (has(/^python-/, ua)) return 'Python';

  let os = null;
  if (has(/\b(?:iPhone|iPad|iPod)\b/, ua)) os = 'iOS';
  else if (has(/\bAndroid\b/, ua)) os = 'Android';
  else if (has(/\bCrOS\b/, ua)) os = 'ChromeOS';
  else if (has(/\bWindows\b/, ua)) os = 'Windows';
  else if (has(/\bMac OS X\b|\bMacintosh\b/, ua)) os = 'macOS';
  else if (has(/\bLinux\b|\bX11\b/, ua)) os = 'Linux';

  if (browser && os) return `${browser} on ${os}`;
  if (browser) return browser;
  if (os) return `Browser on ${os}`;
  return 'Unknown browser';
}

const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'always' });

/**
 * "just now", "5 minutes ago", "3 hours ago", "2 days ago"; a date after a month.
 * @param {number} thenMs epoch milliseconds
 * @param {number} [nowMs]
 * @returns {string}
 */
export function relativeTime(thenMs, nowMs = Date.now()) {
  const seconds = Math.floor((nowMs - thenMs) / 1000);
  if (seconds < 45) return 'just now'; // also a clock a little ahead of ours
  if (seconds < 3600) return rtf.format(-Math.max(1, Math.floor(seconds / 60)), 'minute');
  if (seconds < 86400) return rtf.format(-Math.floor(seconds / 3600), 'hour');
  if (seconds < 30 * 86400) return rtf.format(-Math.floor(seconds / 86400), 'day');
  return `on ${new Date(thenMs).toLocaleDateString('en', { year: 'numeric', month: 'short', day: 'numeric' })}`;
}
