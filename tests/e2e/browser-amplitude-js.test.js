// amplitude-js (the legacy browser SDK, pinned in package.json), unchanged, in headless
// Chromium: its UMD bundle on a page the test serves from another origin than profiled's,
// pointed at profiled with apiEndpoint and forceHttps: false. It speaks the v1 form protocol
// (POST / with client, e, v, upload_time and a checksum) over XHR after a CORS preflight, and
// with sendBeacon when the page unloads (its onExitPage). Fails on any request to another
// host, on any console error, and unless the profile reads back exactly. The second block
// sends the v1 form by hand: a wrong checksum, missing fields, an unknown key.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, formBody, it, SEED, sharedServer, sleep, uid } from './harness.js';
import { counter, launchBrowser, moduleFile, startPageServer, until, watchPage } from './browser.js';

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>amplitude-js on profiled</title>
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
<body><p>amplitude-js</p></body></html>`;

describe('amplitude-js in Chromium', () => {
  const h = sharedServer({ projects: [SEED] });
  let browser;
  let site;

  before(async () => {
    browser = await launchBrowser();
    site = await startPageServer({
      '/': { type: 'text/html; charset=utf-8', body: PAGE },
      '/left': { type: 'text/html; charset=utf-8', body: '<!doctype html><link rel="icon" href="data:,"><p>left</p>' },
      '/amplitude.js': { type: 'text/javascript; charset=utf-8', body: moduleFile('amplitude-js/amplitude.umd.min.js') },
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
    const user = uid('legacy-user');
    const device = uid('legacy-device');
    await page.goto(`${site.origin}/`, { waitUntil: 'load' });

    // Phase 1, XHR: each call sends at once (one request at a time, in order); every callback
    // reports the HTTP status and the body amplitude-js got.
    const results = await page.evaluate(async (cfg) => {
      const c = window.amplitude.getInstance();
      const I = () => new window.amplitude.Identify();
      await new Promise((resolve) => {
        c.init(cfg.apiKey, cfg.user, {
          apiEndpoint: cfg.endpoint,
          forceHttps: false,
          deviceId: cfg.device,
          // Its page-exit hook: amplitude-js switches to the beacon transport around it.
          onExitPage: () => {
            c.identify(I().add('logins', 1).append('tags', 'left').set('exit', 'beacon'));
            c.logEvent('Page Left');
          },
        }, resolve);
      });
      // Calls f with a callback; the promise of what the callback reports.
      const waits = [];
      const track = (what, f) => {
        waits.push(new Promise((resolve) => f((status, response) => resolve({ what, status, response }))));
      };
      track('Song Played', (cb) => c.logEvent('Song Played', { title: 'Hey Jude', plays: 3 }, cb));
      track('doomed', (cb) => c.identify(I().set('doomed', true).add('logins', 100), cb));
      track('clearAll', (cb) => c.identify(I().clearAll(), cb));
      c.setUserProperties({ favorite: 'jazz' }); // no callback: the next call's comes after it
      track('identify 1', (cb) =>
        c.identify(
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
          cb,
        ));
      track('identify 2', (cb) =>
        c.identify(
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
          cb,
        ));
      // setGroup and logRevenueV2 take no callback: the event after them is sent after them.
      c.setGroup('org', 'acme');
      c.logRevenueV2(new window.amplitude.Revenue().setProductId('sku-1').setPrice(9.99).setQuantity(2).setRevenueType('purchase'));
      track('After', (cb) => c.logEvent('After Revenue', {}, cb));
      return Promise.all(waits);
    }, { apiKey: SEED.api_key, endpoint: new URL(base).host, user, device });
    for (const r of results) assert.deepEqual(r, { what: r.what, status: 200, response: 'success' });

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
    const before = await h.server.userData({ user_id: user });
    assert.deepEqual(before.user_properties, expected);

    // Phase 2, unload: onExitPage's identify and event go out with sendBeacon.
    await page.goto(`${site.origin}/left`, { waitUntil: 'load' });
    const final = await until('the beacon to land', async () => {
      const d = await h.server.userData({ user_id: user });
      return d.user_properties.exit === 'beacon' ? d : undefined;
    });
    assert.deepEqual(final.user_properties, { ...expected, logins: 6, tags: ['a', 'b', 'c', 'left'], exit: 'beacon' });
    assert.equal(final.amplitude_id, before.amplitude_id);
    assert.equal((await h.server.userData({ device_id: device })).amplitude_id, final.amplitude_id);

    const beacons = await page.evaluate(() => JSON.parse(localStorage.getItem('beacons') ?? '[]'));
    assert.ok(beacons.length >= 1, 'no beacon');
    for (const b of beacons) assert.deepEqual(b, { url: base, sent: true });
    const posts = watch.requests.filter((r) => r.url === `${base}/` && r.method === 'POST');
    assert.ok(posts.length >= 1 && posts.every((r) => r.type === 'XHR'), JSON.stringify(watch.requests));
    // Every upload answered 200 (the last beacon may still be on its way: wait for it).
    const uploads = posts.length + beacons.length;
    const metricsAfter = await until('every upload to be counted', async () => {
      const m = await h.server.metrics();
      return counter(m, '/', 200) - counter(metricsBefore, '/', 200) >= uploads ? m : undefined;
    });
    assert.equal(counter(metricsAfter, '/', 200) - counter(metricsBefore, '/', 200), uploads);
    assert.ok(counter(metricsAfter, 'OPTIONS', 204) > counter(metricsBefore, 'OPTIONS', 204), 'a CORS preflight was answered');
    assert.deepEqual(watch.problems(), { offHost: [], errors: [], failed: [] });
    await page.close();
  });
  it('a batch over the 2 MiB limit is a 413, on which amplitude-js halves its batch until it passes', async () => {
    const base = h.server.base;
    const page = await browser.newPage();
    const watch = await watchPage(page, [site.origin, base]);
    const metricsBefore = await h.server.metrics();
    const user = uid('legacy-big');
    await page.goto(`${site.origin}/`, { waitUntil: 'load' });
    // 100 identifies of about 24 KiB each, queued (batchEvents) and then sent as one upload of
    // about 2.4 MiB: 413; halved to 50, each half passes (the second on the upload timer).
    // amplitude-js truncates strings at 4096 characters, profiled keeps 1024.
    const statuses = await page.evaluate(async (cfg) => {
      const c = window.amplitude.getInstance('big');
      await new Promise((resolve) => {
        c.init(cfg.apiKey, cfg.user, {
          apiEndpoint: cfg.endpoint,
          forceHttps: false,
          batchEvents: true,
          eventUploadThreshold: 100,
          // What is left below the threshold after the halving goes out on this timer.
          eventUploadPeriodMillis: 1000,
          saveEvents: false,
        }, resolve);
      });
      const filler = (i, k) => `${i}-${k}-`.padEnd(4000, 'x');
      const waits = [];
      for (let i = 0; i < 100; i++) {
        const identify = new window.amplitude.Identify().add('n', 1);
        for (let k = 0; k < 6; k++) identify.set(`blob${k}`, filler(i, k));
        waits.push(new Promise((resolve) => c.identify(identify, (status) => resolve(status))));
      }
      return Promise.all(waits);
    }, { apiKey: SEED.api_key, endpoint: new URL(base).host, user });
    assert.deepEqual(new Set(statuses), new Set([200]));
    const props = (await h.server.userData({ user_id: user })).user_properties;
    assert.equal(props.n, 100);
    assert.equal(props.blob0, `99-0-`.padEnd(1024, 'x'));
    const metricsAfter = await h.server.metrics();
    assert.equal(counter(metricsAfter, '/', 413) - counter(metricsBefore, '/', 413), 1);
    assert.equal(counter(metricsAfter, '/', 200) - counter(metricsBefore, '/', 200), 2);
    // The 413 is a response the page read, not a failed request; Chromium itself logs every
    // 4xx as a console error, the one error here.
    assert.deepEqual(watch.problems(), {
      offHost: [],
      errors: [`error: Failed to load resource: the server responded with a status of 413 (Payload Too Large) ${JSON.stringify({ url: `${base}/` })}`],
      failed: [],
    });
    await page.close();
  });
});

describe('the v1 form protocol (POST /) by hand', () => {
  const h = sharedServer({ projects: [SEED] });

  // The form amplitude-js sends; `tamper` changes fields after the checksum is made.
  function v1Form(events, { apiKey = SEED.api_key, uploadTime = Date.now(), tamper = {} } = {}) {
    const e = JSON.stringify(events);
    const checksum = crypto.createHash('md5').update(`2${apiKey}${e}${uploadTime}`, 'utf8').digest('hex');
    return formBody({ client: apiKey, e, v: '2', upload_time: String(uploadTime), checksum, ...tamper });
  }
  const post = (body, headers = {}) =>
    h.server.request('POST', '/', {
      body,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8', ...headers },
    });

  it('maps timestamp to time and uuid to insert_id, and answers success', async () => {
    const user = uid('v1-user');
    const device = uid('v1-dev');
    const event = (uuid, add, timestamp) => ({
      user_id: user,
      device_id: device,
      timestamp,
      event_id: 1,
      session_id: timestamp,
      event_type: '$identify',
      uuid,
      sequence_number: 1,
      api_properties: {},
      library: { name: 'amplitude-js', version: '8.21.10' },
      user_properties: { $add: { n: add }, $set: { name: 'Zoë ✓' } },
      groups: {},
      group_properties: {},
    });
    const res = await post(v1Form([event('u-1', 2, 1700000000000), event('u-2', 3, 1700000001000)]));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'success');
    assert.match(res.headers['content-type'], /^text\/plain/);
    // The same uuid again is a duplicate (insert_id), as over HTTP V2.
    assert.equal((await post(v1Form([event('u-2', 100, 1700000002000)]))).status, 200);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { n: 5, name: 'Zoë ✓' });
  });

  it('a wrong checksum is a 400 saying so, and changes nothing', async () => {
    const user = uid('v1-bad');
    const events = [{ user_id: user, event_type: '$identify', user_properties: { $set: { x: 1 } }, timestamp: Date.now() }];
    for (const tamper of [
      { checksum: '0'.repeat(32) },
      { upload_time: '1' }, // the checksum covers upload_time
      { e: JSON.stringify([{ ...events[0], user_properties: { $set: { x: 2 } } }]) },
    ]) {
      const res = await post(v1Form(events, { tamper }));
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.json, {
        code: 400,
        error: 'Invalid checksum: checksum must be the hex MD5 of v, client, e and upload_time as sent, concatenated',
      });
    }
    assert.equal((await h.server.profile({ user_id: user })).status, 404);
    // Upper-case hex is the same checksum.
    const ok = new URLSearchParams(v1Form(events));
    ok.set('checksum', ok.get('checksum').toUpperCase());
    assert.equal((await post(ok.toString())).status, 200);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { x: 1 });
  });

  it('missing fields, an unknown key and bad events are 400s', async () => {
    const user = uid('v1-missing');
    const events = [{ user_id: user, event_type: 'E', timestamp: Date.now() }];
    for (const field of ['client', 'e', 'v', 'upload_time', 'checksum']) {
      const form = new URLSearchParams(v1Form(events));
      form.delete(field);
      const res = await post(form.toString());
      assert.equal(res.status, 400, field);
      assert.equal(res.json.error, 'Request missing required field', field);
      assert.equal(res.json.missing_field, field);
    }
    const unknown = await post(v1Form(events, { apiKey: 'no-such-key' }));
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.json, { code: 400, error: 'Invalid API key: no-such-key' });
    const notArray = await post(v1Form({ user_id: user }));
    assert.equal(notArray.status, 400);
    assert.equal(notArray.json.error, 'Invalid event JSON');
    const badEvent = await post(v1Form([{ user_id: user, event_type: 'E', timestamp: 'yesterday' }]));
    assert.equal(badEvent.status, 400);
    assert.deepEqual(badEvent.json.events_with_invalid_fields, { time: [0] });
    assert.equal((await h.server.profile({ user_id: user })).status, 404);
    // The root is the upload's path: another method there is a 405.
    assert.equal((await h.server.request('GET', '/')).status, 405);
  });

  it('a browser gets CORS headers on the upload and its preflight', async () => {
    const origin = 'http://app.example';
    const pre = await h.server.request('OPTIONS', '/', {
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,cross-origin-resource-policy',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type,cross-origin-resource-policy');
    const res = await post(v1Form([{ user_id: uid('v1-cors'), event_type: 'E', timestamp: Date.now() }]), { Origin: origin });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], '*');
  });
});
