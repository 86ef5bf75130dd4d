// Headless Chromium (Debian's /usr/bin/chromium) driven by puppeteer-core, for the browser SDK
// tests: a page server of the test's own on another port than profiled (so the page's origin
// differs from profiled's and CORS is really exercised), and a watch over everything a page
// does: each request it makes (any to a host other than the test's own is recorded, and the
// test fails on it), its console errors and uncaught exceptions.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { makeTempDir, sleep, TLS } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = process.env.PROFILED_CHROMIUM || '/usr/bin/chromium';

// The base64 SHA-256 of a PEM certificate's public key (SubjectPublicKeyInfo), as Chromium's
// --ignore-certificate-errors-spki-list names the certificates it trusts.
function spkiHash(certFile) {
  const spki = new crypto.X509Certificate(fs.readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}

// Launches Chromium headless with a fresh profile. Throws (the test fails, it does not skip)
// when the browser is missing: `make test` installs it (scripts/install-deps.sh). In HTTPS mode
// (harness.js TLS) it trusts the run's server certificate, which both profiled and the page
// server present, by its public key: nothing else about certificates is relaxed.
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/install-deps.sh)`);
  }
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // A page that never answers fails its test in seconds, not after puppeteer's 3 minutes.
    protocolTimeout: 20000,
    // Without the background-networking flags Chromium itself keeps calling Google's hosts,
    // which this closed network refuses.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Containers often give /dev/shm 64 MiB, too little for Chromium's shared memory.
      '--disable-dev-shm-usage',
      // Names other than the test's own resolve to nothing: whatever a page tries, no request
      // leaves this machine (watchPage still records the attempt, and the test fails on it).
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
      `--user-data-dir=${makeTempDir('profiled-chromium-')}`,
      ...(TLS ? [`--ignore-certificate-errors-spki-list=${spkiHash(TLS.cert)}`] : []),
    ],
  });
}

// A file of the SDK packages in node_modules.
export function moduleFile(relative) {
  return fs.readFileSync(path.join(here, 'node_modules', relative), 'utf8');
}

// Serves `routes` ({'/path': {type, body}}) on 127.0.0.1 and a free port; anything else is 404.
// Over HTTPS in HTTPS mode (a page on https may only call https). Resolves to {origin, close()}.
export async function startPageServer(routes) {
  const handler = (req, res) => {
    const route = routes[new URL(req.url, 'http://x').pathname];
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': route.type, 'Cache-Control': 'no-store' });
    res.end(route.body);
  };
  const server = TLS
    ? https.createServer({ cert: fs.readFileSync(TLS.cert), key: fs.readFileSync(TLS.key) }, handler)
    : http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `${TLS ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
  return {
    origin,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(resolve);
    }),
  };
}

// Watches `page` (resolves once watching): every request it makes (url, method, resource type:
// "Fetch", "XHR", "Ping" for a beacon, ...), read from the DevTools protocol's Network domain
// rather than puppeteer's request events, which miss what a page sends while it unloads;
// the requests to an origin not in `allowedOrigins` (`offHost`); console errors and uncaught
// exceptions (`errors`); requests that failed (`failed`) and responses with their status
// (`responses`). `problems()` is what must stay empty, for an assertion that prints it.
export async function watchPage(page, allowedOrigins) {
  const w = { requests: [], offHost: [], errors: [], warnings: [], failed: [], responses: [] };
  const allowed = new Set(allowedOrigins);
  const byId = new Map();
  const cdp = await page.createCDPSession();
  cdp.on('Network.requestWillBeSent', (e) => {
    const url = e.request.url;
    const entry = { url, method: e.request.method, type: e.type, contentType: e.request.headers['Content-Type'] };
    byId.set(e.requestId, entry);
    w.requests.push(entry);
    if (url.startsWith('data:') || url.startsWith('blob:') || url.startsWith('about:')) return;
    let origin;
    try {
      origin = new URL(url).origin;
    } catch {
      origin = url;
    }
    if (!allowed.has(origin)) w.offHost.push(entry);
  });
  cdp.on('Network.responseReceived', (e) => {
    w.responses.push({ url: e.response.url, status: e.response.status, type: e.type });
  });
  cdp.on('Network.loadingFailed', (e) => {
    // A beacon whose page is gone may be reported cancelled although it was sent.
    if (e.canceled && byId.get(e.requestId)?.type === 'Ping') return;
    w.failed.push({ ...byId.get(e.requestId), error: e.errorText, blockedReason: e.blockedReason, cors: e.corsErrorStatus });
  });
  await cdp.send('Network.enable');
  page.on('console', (msg) => {
    if (process.env.PROFILED_BROWSER_DEBUG) console.log('page console', msg.type(), msg.text());
    const text = `${msg.type()}: ${msg.text()} ${JSON.stringify(msg.location() ?? {})}`;
    if (msg.type() === 'error') w.errors.push(text);
    if (msg.type() === 'warn' || msg.type() === 'warning') w.warnings.push(text);
  });
  page.on('pageerror', (err) => w.errors.push(`pageerror: ${err?.stack ?? err}`));
  w.problems = () => ({ offHost: w.offHost, errors: w.errors, failed: w.failed });
  return w;
}

// Waits until fn() returns a value other than undefined and returns it, or fails after `ms`.
export async function until(what, fn, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// profiled_http_requests_total{route,status} in a metrics() map (0 when absent).
export function counter(metrics, route, status) {
  return metrics.get(`profiled_http_requests_total{route="${route}",status="${status}"}`) ?? 0;
}
