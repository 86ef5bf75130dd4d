// @amplitude/analytics-browser (pinned in package.json), unchanged, in headless Chromium: its
// UMD bundle on a page that the test serves from another origin than profiled's, initialised
// with the options docs/API.md ("Browser SDKs") gives to keep every request on your own
// servers. Fails on any request to another host, on any console error, and unless the
// profile reads back exactly what the page sent, through fetch (CORS preflights) and, on page
// unload, sendBeacon.
import assert from 'node:assert/strict';
import { after, before, describe, it, SEED, sharedServer, sleep, uid } from './harness.js';
import { counter, launchBrowser, moduleFile, startPageServer, until, watchPage } from './browser.js';

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>analytics-browser on profiled</title>
<link rel="icon" href="data:,">
<script>
  // Counts the page's beacons (DevTools does not report those a page sends as it unloads);
  // the browser's own sendBeacon does the sending.
  const sendBeacon = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = (url, data) => {
    const sent = sendBeacon(url, data);
    localStorage.setItem('beacons', JSON.stringify([...JSON.parse(localStorage.getItem('beacons') ?? '[]'), { url, sent }]));
    return sent;
  };
</script>
<script src="/amplitude.js"></script></head>
<body><p>analytics-browser</p>
<script>
  // Amplitude's advice for page exits: the beacon transport, then a flush of what is queued.
  window.addEventListener('pagehide', () => {
    amplitude.setTransport('beacon');
    amplitude.flush();
  });
</script></body></html>`;

describe('@amplitude/analytics-browser in Chromium', () => {
  const h = sharedServer({ projects: [SEED] });
  let browser;
  let site;

  before(async () => {
    browser = await launchBrowser();
    site = await startPageServer({
      '/': { type: 'text/html; charset=utf-8', body: PAGE },
      '/left': { type: 'text/html; charset=utf-8', body: '<!doctype html><link rel="icon" href="data:,"><p>left</p>' },
      '/amplitude.js': {
        type: 'text/javascript; charset=utf-8',
        body: moduleFile('@amplitude/analytics-browser/lib/scripts/amplitude-min.umd.js'),
      },
    });
  });
  after(async () => {
    await browser?.close();
    await site?.close();
  });

  it('track, identify with every operation, setGroup, revenue and a beacon on unload land in the profile', async () => {
    const base = h.server.base;
    const page = await browser.newPage();
    const watch = await watchPage(page, [site.origin, base]);
    const metricsBefore = await h.server.metrics();
    const user = uid('browser-user');
    const device = uid('browser-device');
    await page.goto(`${site.origin}/`, { waitUntil: 'load' });
    assert.notEqual(page.url(), 'about:blank');

    // Phase 1, fetch: everything queued, then one flush; each result is the SDK's own.
    const results = await page.evaluate(async (cfg) => {
      const a = window.amplitude;
      await a.init(cfg.apiKey, cfg.user, {
        serverUrl: cfg.serverUrl,
        remoteConfig: { serverUrl: cfg.configUrl },
        enableDiagnostics: false,
        deviceId: cfg.device,
        // Attribution would add initial_referrer, initial_utm_*, ... to the profile.
        autocapture: { attribution: false },
        flushIntervalMillis: 60000,
        flushQueueSize: 100,
      }).promise;
      const I = () => new a.Identify();
      const pending = [
        a.track('Song Played', { title: 'Hey Jude', plays: 3 }),
        a.identify(I().set('doomed', true).add('logins', 100)),
        a.identify(I().clearAll()),
        a.track({ event_type: 'Profile Updated', user_properties: { favorite: 'jazz' } }),
        a.identify(
          I()
            .set('plan', 'pro')
            .setOnce('signup', '2024-01-01')
            .add('logins', 2)
            .append('tags', 'a')
            .prepend('history', 'h1')
            .preInsert('pre', ['x', 'y'])
            .postInsert('post', ['p', 'q'])
            .set('colors', ['red', 'green', 'red', 'blue'])
            .set('temp', 1)
            .set('nested', { a: { b: [1, 2] } }),
        ),
        a.identify(
          I()
            .set('plan', 'enterprise')
            .setOnce('signup', '2099-12-31')
            .add('logins', 3)
            .append('tags', ['b', 'c'])
            .prepend('history', 'h0')
            .preInsert('pre', ['y', 'w'])
            .postInsert('post', ['q', 'r'])
            .remove('colors', 'red')
            .unset('temp'),
        ),
        a.setGroup('org', 'acme'),
        a.revenue(new a.Revenue().setProductId('sku-1').setPrice(9.99).setQuantity(2).setRevenueType('purchase')),
      ].map((r) => r.promise);
      await a.flush().promise;
      return (await Promise.all(pending)).map((r) => ({ type: r.event.event_type, code: r.code, message: r.message }));
    }, {
      apiKey: SEED.api_key,
      serverUrl: `${base}/2/httpapi`,
      configUrl: `${base}/config`,
      user,
      device,
    });
    for (const r of results) assert.equal(r.code, 200, `${r.type}: ${r.code} ${r.message}`);

    const expected = {
      favorite: 'jazz',
      plan: 'enterprise',
      signup: '2024-01-01',
      logins: 5,
      tags: ['a', 'b', 'c'],
      history: ['h0', 'h1'],
      pre: ['w', 'x', 'y'],
      post: ['p', 'q', 'r'],
      colors: ['green', 'blue'],
      nested: { a: { b: [1, 2] } },
      org: 'acme',
    };
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, expected);

    // Phase 2, unload: queued, not flushed; leaving the page sends it with sendBeacon.
    await page.evaluate(() => {
      const a = window.amplitude;
      a.identify(new a.Identify().add('logins', 1).append('tags', 'left').set('exit', 'beacon'));
      a.track('Page Left');
    });
    await page.goto(`${site.origin}/left`, { waitUntil: 'load' });
    const final = await until('the beacon to land', async () => {
      const d = await h.server.userData({ user_id: user });
      return d.user_properties.exit === 'beacon' ? d : undefined;
    });
    assert.deepEqual(final.user_properties, { ...expected, logins: 6, tags: ['a', 'b', 'c', 'left'], exit: 'beacon' });
    assert.equal((await h.server.userData({ device_id: device })).amplitude_id, final.amplitude_id);

    // What the page did: the remote configuration from profiled, fetches after a CORS
    // preflight, a beacon; nothing anywhere else; no error in the console.
    const to = (p) => watch.requests.filter((r) => r.url.startsWith(`${base}${p}`));
    // (2.48.1 fetches it twice on init: once for its diagnostics settings, once for the rest.)
    const configs = to('/config/').map((r) => r.url);
    assert.ok(configs.length >= 1);
    for (const url of configs) assert.equal(url, `${base}/config/${SEED.api_key}?config_group=browser`);
    assert.ok(to('/2/httpapi').some((r) => r.type === 'Fetch'), JSON.stringify(watch.requests));
    const beacons = await page.evaluate(() => JSON.parse(localStorage.getItem('beacons') ?? '[]'));
    assert.deepEqual(beacons, [{ url: `${base}/2/httpapi`, sent: true }]);
    const metricsAfter = await h.server.metrics();
    assert.ok(counter(metricsAfter, 'OPTIONS', 204) > counter(metricsBefore, 'OPTIONS', 204), 'a CORS preflight was answered');
    assert.equal(counter(metricsAfter, '/config', 200) - counter(metricsBefore, '/config', 200), configs.length);
    assert.deepEqual(watch.problems(), { offHost: [], errors: [], failed: [] });
    await page.close();
  });

  it('the xhr transport, useBatch with /batch and no remote configuration at all work as well', async () => {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    const base = h.server.base;
    const watch = await watchPage(page, [site.origin, base]);
    await page.goto(`${site.origin}/`, { waitUntil: 'load' });
    const user = uid('browser-xhr');
    const codes = await page.evaluate(async (cfg) => {
      const a = window.amplitude;
      await a.init(cfg.apiKey, cfg.user, {
        serverUrl: cfg.serverUrl,
        useBatch: true,
        transport: 'xhr',
        remoteConfig: { fetchRemoteConfig: false },
        enableDiagnostics: false,
        autocapture: false,
      }).promise;
      const pending = [
        a.identify(new a.Identify().set('via', 'xhr').add('n', 2)).promise,
        a.identify(new a.Identify().add('n', 3)).promise,
      ];
      await a.flush().promise;
      return (await Promise.all(pending)).map((r) => r.code);
    }, { apiKey: SEED.api_key, serverUrl: `${base}/batch`, user });
    assert.deepEqual(codes, [200, 200]);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { via: 'xhr', n: 5 });
    assert.ok(watch.requests.some((r) => r.url === `${base}/batch` && r.method === 'POST' && r.type === 'XHR'), JSON.stringify(watch.requests));
    assert.deepEqual(watch.requests.filter((r) => r.url.includes('/config')), []);
    assert.deepEqual(watch.problems(), { offHost: [], errors: [], failed: [] });
    await context.close();
  });

  it('with serverUrl alone the SDK calls Amplitude for its remote configuration, and the watch sees it', async () => {
    // The check above can fail: without remoteConfig.serverUrl the SDK asks Amplitude's host
    // (which resolves to nothing here: launchBrowser), sending the api_key along.
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    const watch = await watchPage(page, [site.origin, h.server.base]);
    await page.goto(`${site.origin}/`, { waitUntil: 'load' });
    const user = uid('browser-default');
    const code = await page.evaluate(async (cfg) => {
      const a = window.amplitude;
      await a.init(cfg.apiKey, cfg.user, { serverUrl: cfg.serverUrl, autocapture: false, logLevel: 0 }).promise;
      return (await a.identify(new a.Identify().set('plain', true)).promise).code;
    }, { apiKey: SEED.api_key, serverUrl: `${h.server.base}/2/httpapi`, user });
    assert.equal(code, 200);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { plain: true });
    assert.ok(watch.offHost.length > 0, JSON.stringify(watch.requests));
    for (const r of watch.offHost) {
      assert.equal(r.url, `https://sr-client-cfg.amplitude.com/config/${SEED.api_key}?config_group=browser`);
    }
    await context.close();
  });
});

describe('GET /config/{api_key}, the remote configuration, by hand', () => {
  const h = sharedServer({ projects: [SEED, { id: 'odd', api_key: 'key+with/odd chars', secret_key: 'odd-secret-key' }] });

  it('is the empty configuration, diagnostics off, for a project key; 401 for another', async () => {
    const res = await h.server.request('GET', `/config/${SEED.api_key}?config_group=browser`, {
      headers: { Origin: 'http://app.example', Accept: '*/*' },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.deepEqual(res.json, {
      configs: { analyticsSDK: { browserSDK: {} }, diagnostics: { browserSDK: { enabled: false, sampleRate: 0 } } },
    });
    // The SDK percent-encodes the key into the path.
    const odd = await h.server.request('GET', `/config/${encodeURIComponent('key+with/odd chars')}?config_group=browser`);
    assert.equal(odd.status, 200);
    const unknown = await h.server.request('GET', '/config/not-a-key?config_group=browser');
    assert.equal(unknown.status, 401);
    assert.deepEqual(unknown.json, { code: 401, error: 'Invalid API key: not-a-key' });
    for (const path of ['/config/', '/config/a/b']) assert.equal((await h.server.request('GET', path)).status, 404, path);
    assert.equal((await h.server.request('POST', `/config/${SEED.api_key}`, { body: '{}' })).status, 405);
  });
});
