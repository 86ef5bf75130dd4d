// The console (docs/API.md, "Console") in headless Chromium: the page profiled serves at
// /console from the files compiled into it, against a server with a computation, two cohorts
// and a recommendation with a control group, fed with @amplitude/analytics-node. Signs in
// (a wrong token first), reads the projects, the definitions with their statuses, the plots
// (SVG paths with points), a profile lookup (exact properties, computed values, cohorts,
// recommendations, recent events; a property holding markup shows as text), and a
// recommendation's online report (lift from exposures and a conversion event picked on the
// page). A screenshot of each view is checked for content (a PNG of the viewport's size that
// is not blank); with PROFILED_CONSOLE_SCREENSHOT=path the test also sends traffic for a while and
// writes a screenshot of the overview after it there (the README's docs/console.png). Any console error, page exception, failed request or request to
// another host fails the test.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Identify } from '@amplitude/analytics-node';
import { after, before, configToml, describe, it, makeTempDir, startServer } from './harness.js';
import { cohort, eventCond, putAllReady, sdkClient, sdkTrack, userPropCond, until as poll } from './compute-helpers.js';
import { launchBrowser, until, watchPage } from './browser.js';

const TOKEN = 'e2e-admin-token';
const SHOP = { id: 'shop', api_key: 'shop-api-key', secret_key: 'shop-secret-key', profile_dialect: 'seed' };
const BLOG = { id: 'blog', api_key: 'blog-api-key', secret_key: 'blog-secret-key', profile_dialect: 'amplitude' };
const XSS = '<img src=x onerror=window.__pwned=1>';
const CLUSTERS = 5;
const PER_CLUSTER = 8;
const item = (c, i) => `sku-${c}-${i}`;
const BUYERS = 16;
const VIEWPORT = { width: 1280, height: 800 };

const COMPUTATION = { name: 'purchases_30d', type: 'count', event_type: 'Purchase', property: null, where: [], window_days: 30 };
const REC = {
  title: 'Recommended for you',
  model: 'ease',
  item_event: 'Product Viewed',
  item_property: 'product_id',
  history_window_days: 30,
  max_items: 3,
  control_percentage: 50,
  params: { lambda: 10 },
};

// A config whose [console] samples rates and cohort sizes every `rate` and `cohorts` seconds.
function config(projects, rate, cohorts, testing = {}) {
  return configToml({
    dataDir: '{{DATA}}', projects, adminToken: TOKEN, testing, console: { rate_sample_seconds: rate, cohort_sample_seconds: cohorts },
  });
}

// Signs in on a fresh page of `server`'s console; resolves to {page, watch}.
async function signedIn(browser, server) {
  const page = await browser.newPage();
  await page.setViewport(VIEWPORT);
  const watch = await watchPage(page, [server.base]);
  await page.goto(`${server.base}/console`, { waitUntil: 'load' });
  await page.waitForSelector('#sign-in-view:not([hidden])');
  await page.type('#token', TOKEN);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForSelector('#app-view:not([hidden])');
  return { page, watch };
}

// ---- screenshots ------------------------------------------------------------------------------

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

// Decodes a PNG as Chromium writes it (8-bit RGB or RGBA, not interlaced): its size, how many
// distinct pixel values it has and the share of the commonest one.
function pngStats(buf) {
  assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG signature');
  let width = 0;
  let height = 0;
  let bpp = 0;
  const idat = [];
  for (let off = 8; off < buf.length;) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('ascii', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth');
      assert.ok(data[9] === 2 || data[9] === 6, `colour type ${data[9]}`);
      assert.equal(data[12], 0, 'not interlaced');
      bpp = data[9] === 6 ? 4 : 3;
    }
    if (type === 'IDAT') idat.push(data);
    if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  assert.equal(raw.length, height * (stride + 1), 'the image data covers every row');
  let prev = Buffer.alloc(stride);
  let cur = Buffer.alloc(stride);
  const counts = new Map();
  for (let y = 0; y < height; y++) {
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter];
      assert.notEqual(predictor, undefined, `filter ${filter}`);
      cur[i] = (line[i] + predictor) & 0xff;
    }
    for (let i = 0; i < stride; i += bpp) {
      const key = cur.readUIntBE(i, 3);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    [prev, cur] = [cur, prev];
  }
  const commonest = Math.max(...counts.values());
  return { width, height, distinct: counts.size, commonestShare: commonest / (width * height) };
}

// A screenshot of the viewport into the test's temp dir, checked for content; returns its stats.
async function shoot(page, dir, name) {
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file });
  const stats = pngStats(fs.readFileSync(file));
  assert.equal(stats.width, VIEWPORT.width, `${name}: width`);
  assert.equal(stats.height, VIEWPORT.height, `${name}: height`);
  // Text, borders and plots give hundreds of colours (anti-aliasing); a blank or failed page
  // has a handful, nearly all one.
  assert.ok(stats.distinct >= 100, `${name}: ${stats.distinct} distinct colours`);
  assert.ok(stats.commonestShare < 0.95, `${name}: ${(stats.commonestShare * 100).toFixed(1)}% one colour`);
  return { file, ...stats };
}

// ---- the page -------------------------------------------------------------------------------

const text = (page, selector) => page.$eval(selector, (e) => e.textContent);
const texts = (page, selector) => page.$$eval(selector, (es) => es.map((e) => e.textContent));

// The rows of a table as arrays of cell texts.
const rows = (page, selector) =>
  page.$$eval(`${selector} tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));

describe('the console in Chromium', () => {
  let server;
  let browser;
  let shots;
  const expected = {};
  let t0 = 0; // the time of Ada's first event

  before(async () => {
    // The plots sample every second here.
    server = await startServer({ config: config([SHOP, BLOG], 1, 1) });
    shots = makeTempDir('profiled-console-shots-');
    browser = await launchBrowser();

    // Training: 12 viewers per cluster of items, each viewing 5 of its 8 items.
    const training = [];
    for (let c = 0; c < CLUSTERS; c++) {
      for (let u = 0; u < 12; u++) {
        for (let k = 0; k < 5; k++) {
          training.push({ user_id: `viewer-${c}-${u}`, event_type: 'Product Viewed', time: Date.now() - 86400000 + k,
            event_properties: { product_id: item(c, (u + k) % PER_CLUSTER) } });
        }
      }
    }
    await server.trackOk(training, { apiKey: SHOP.api_key });

    const client = await sdkClient(server, SHOP.api_key);
    // Ada: properties (one of them markup), two views and a purchase.
    await client.identify(new Identify().set('plan', 'pro').set('nickname', XSS).add('visits', 3).set('tags', ['a', 'b']),
      { user_id: 'ada-lovelace', device_id: 'ada-laptop' }).promise;
    // Her organisation, with a property of its own.
    const setGroup = client.setGroup('org', 'acme-labs', { user_id: 'ada-lovelace', device_id: 'ada-laptop' }).promise;
    const groupProps = client.groupIdentify('org', 'acme-labs', new Identify().set('plan', 'enterprise'), { user_id: 'ada-lovelace' }).promise;
    await client.flush().promise;
    assert.deepEqual([(await setGroup).code, (await groupProps).code], [200, 200]);
    t0 = Date.now() - 60000;
    await sdkTrack(client, [
      ['Product Viewed', { product_id: item(0, 0) }, { user_id: 'ada-lovelace', device_id: 'ada-laptop', time: t0, insert_id: 'ada-view-1' }],
      ['Product Viewed', { product_id: item(0, 1) }, { user_id: 'ada-lovelace', device_id: 'ada-laptop', time: t0 + 1000, insert_id: 'ada-view-2' }],
      ['Purchase', { amount: 12.5, note: '<script>window.__pwned=2</script>' },
        { user_id: 'ada-lovelace', device_id: 'ada-laptop', time: t0 + 2000, insert_id: 'ada-purchase' }],
    ]);

    await putAllReady(server, SHOP.id, [
      ['computations', 1, COMPUTATION],
      ['cohorts', 'buyers', cohort('Buyers', eventCond('Purchase', '>=', 1))],
      ['cohorts', 'pro', cohort('Pro plan', userPropCond('plan', 'is', ['pro']))],
      ['recommendations', 'r1', REC],
    ]);
    await poll(async () => {
      const d = await server.adminOk('GET', `/projects/${SHOP.id}/recommendations/r1`);
      return d.training.status === 'ready' && d.training.offline ? d : null;
    }, 'r1 trained and its offline figures measured');
    await server.adminOk('PUT', `/projects/${BLOG.id}/computations/1`, COMPUTATION);

    // Exposures: 16 buyers view two items each and read their recommendations through the
    // Profile API (each read an exposure event, in the control or the treatment group).
    const views = [];
    for (let b = 0; b < BUYERS; b++) {
      for (let k = 0; k < 2; k++) {
        views.push(['Product Viewed', { product_id: item(b % CLUSTERS, k) }, { user_id: `buyer-${b}`, time: Date.now() - 30000 + k }]);
      }
    }
    await sdkTrack(client, views);
    const groups = { control: [], treatment: [] };
    for (let b = 0; b < BUYERS; b++) {
      const data = await server.userData({ user_id: `buyer-${b}`, get_recs: 'true', rec_id: 'r1' }, { secret: SHOP.secret_key });
      const [rec] = data.recommendations;
      groups[rec.is_control ? 'control' : 'treatment'].push(`buyer-${b}`);
    }
    assert.ok(groups.control.length > 0 && groups.treatment.length > 0, JSON.stringify(groups));
    // The exposure events are appended after each read's answer.
    await poll(async () => {
      const r = await server.admin('GET', `/projects/${SHOP.id}/recommendations/r1/report?conversion_event=Purchase`);
      return r.status === 200 && r.json.control.users + r.json.treatment.users === BUYERS;
    }, 'the exposures in the report');
    // Conversions after the exposures: every other treatment user, one control user.
    const converted = [...groups.treatment.filter((_, i) => i % 2 === 0), groups.control[0]];
    await sdkTrack(client, converted.map((u) => ['Purchase', { amount: 5 }, { user_id: u }]));
    await client.flush().promise;
    const rate = (g, n) => n / groups[g].length;
    const treatmentRate = rate('treatment', Math.ceil(groups.treatment.length / 2));
    const controlRate = rate('control', 1);
    expected.groups = groups;
    expected.lift = treatmentRate / controlRate - 1;
    expected.treatmentConverted = Math.ceil(groups.treatment.length / 2);
    expected.buyers = 1 + converted.length; // ada and the converted
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  it('serves its files without auth, with their types and headers; unknown names are 404', async () => {
    const page = await server.request('GET', '/console');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.match(page.headers['content-security-policy'], /^default-src 'none'; script-src 'self';/);
    assert.match(page.text, /<script src="\/console\/app\.js" defer><\/script>/);
    const js = await server.request('GET', '/console/app.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    const css = await server.request('GET', '/console/console.css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    const none = await server.request('GET', '/console/secrets.json');
    assert.equal(none.status, 404);
    assert.deepEqual(none.json, { code: 404, error: 'No such console file' });
    const post = await server.request('POST', '/console/app.js');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, OPTIONS');
    // The page holds no data: without a token the data endpoints it calls are 401.
    assert.equal((await server.admin('GET', '/projects', undefined, { token: null })).status, 401);
  });

  it('signs in, shows projects, definitions, plots, a lookup and a recommendation report', async () => {
    const page = await browser.newPage();
    await page.setViewport(VIEWPORT);
    const watch = await watchPage(page, [server.base]);
    await page.goto(`${server.base}/console`, { waitUntil: 'load' });

    // A wrong token: the 401's message, nothing kept.
    await page.waitForSelector('#sign-in-view:not([hidden])');
    await page.type('#token', 'not-the-token');
    await page.click('#sign-in-form button[type=submit]');
    await until('the 401 message', async () => ((await text(page, '#sign-in-error')) || undefined));
    assert.equal(await text(page, '#sign-in-error'), '401: Invalid admin token');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await shoot(page, shots, 'sign-in');

    await page.type('#token', TOKEN);
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForSelector('#app-view:not([hidden])');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('profiled.console.token')), TOKEN);

    // Projects in config order with their counts.
    assert.deepEqual(await texts(page, '#project-list a strong'), ['shop', 'blog']);
    assert.deepEqual(await texts(page, '#project-list a .counts'), [
      '1 computation · 2 cohorts · 1 recommendation',
      '1 computation · 0 cohorts · 0 recommendations',
    ]);
    assert.equal(await text(page, '#project-title'), 'shop');
    assert.equal(await text(page, '#project-dialect'), 'seed dialect');

    // Definitions with their statuses.
    await page.waitForSelector('#computations-table');
    assert.deepEqual(await rows(page, '#computations-table'), [['1', 'purchases_30d', 'count', 'Purchase', '30 days', 'ready']]);
    await page.waitForSelector('#cohorts-table');
    const cohortRows = await rows(page, '#cohorts-table');
    assert.deepEqual(cohortRows.map((r) => [r[0], r[1], r[2], r[4]]),
      [['buyers', 'Buyers', '1 condition', 'ready'], ['pro', 'Pro plan', '1 condition', 'ready']]);
    const recRow = (await rows(page, '#recommendations-table'))[0];
    assert.deepEqual(recRow.slice(0, 5), ['r1', 'Recommended for you', 'ease', 'Product Viewed · product_id', '50%']);
    assert.equal(recRow[5], 'ready');
    assert.match(recRow[6], /^ready.*trained \d{4}-\d\d-\d\d \d\d:\d\d:\d\d · 6\d users · 40 items/);
    const { offline } = (await server.adminOk('GET', `/projects/${SHOP.id}/recommendations/r1`)).training;
    assert.equal(recRow[7], `hit rate@10 ${(offline.hit_rate * 100).toFixed(1)}% · NDCG@10 ${offline.ndcg.toLocaleString('en-US', { maximumFractionDigits: 3 })} · ${offline.users} users`);

    // The plots: a path per series with at least three points, once the samplers have run;
    // the cohort plot's last sample is each cohort's size.
    const ratePoints = await until('three rate samples', async () => {
      const n = await page.$$eval('#rates-chart path.series', (ps) => ps.map((p) => Number(p.getAttribute('data-points'))));
      return n.length === 3 && n.every((x) => x >= 3) ? n : undefined;
    });
    assert.equal(ratePoints.length, 3);
    // Later refreshes ask for this project's samples newer than those the page holds, and the
    // page appends them: it plots exactly the server's samples up to its newest, none missed
    // and none twice (the server, read after the page, may have a few newer ones).
    await until('an incremental refresh', async () => {
      const asked = await page.$eval('#view-overview', (v) => v.getAttribute('data-stats-path'));
      return /^\/admin\/v1\/stats\?project=shop&since=\d+$/.test(asked ?? '') ? asked : undefined;
    });
    await until('the plot growing by incremental refreshes to the server\'s samples', async () => {
      const plotted = await page.$$eval('#rates-chart path.series', (ps) => ps.map((p) => p.getAttribute('data-times').split(',').map(Number)));
      const onServer = (await server.adminOk('GET', '/stats')).rates.samples.map((r) => r.t);
      return plotted.every((ts) => ts.length > ratePoints[0] &&
        JSON.stringify(ts) === JSON.stringify(onServer.filter((t) => t <= ts[ts.length - 1]))) ? plotted : undefined;
    });
    const paths = await page.$$eval('#rates-chart path.series', (ps) => ps.map((p) => [p.getAttribute('data-series'), p.getAttribute('d')]));
    assert.deepEqual(paths.map((p) => p[0]), ['events ingested/s', 'profile reads/s', 'requests/s']);
    for (const [, d] of paths) assert.match(d, /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){2,}$/);
    await until('the cohort sizes plotted', async () => {
      const legend = await texts(page, '#cohorts-chart .legend > span');
      return JSON.stringify(legend) === JSON.stringify([`buyers (${expected.buyers})`, 'pro (1)']) ? legend : undefined;
    }, 20000);
    const cohortPaths = await page.$$eval('#cohorts-chart path.series', (ps) => ps.map((p) => [p.getAttribute('data-series'), Number(p.getAttribute('data-points'))]));
    assert.deepEqual(cohortPaths.map((p) => p[0]), ['buyers', 'pro']);
    assert.ok(cohortPaths.every((p) => p[1] >= 2), JSON.stringify(cohortPaths));
    assert.deepEqual((await rows(page, '#cohorts-table')).map((r) => r[3]), [String(expected.buyers), '1']);
    const overview = await shoot(page, shots, 'overview');
    assert.ok(overview.distinct > 0);

    // The profile lookup.
    await page.click('#tab-lookup');
    await page.waitForSelector('#view-lookup:not([hidden])');
    await page.type('#lookup-id', 'ada-lovelace');
    await page.click('#lookup-form button[type=submit]');
    await page.waitForSelector('#lookup-result[data-loaded="user_id=ada-lovelace"]');
    const api = await server.adminOk('GET', `/projects/${SHOP.id}/users?user_id=ada-lovelace`);
    assert.equal(await text(page, '[data-field=amplitude_id]'), String(api.amplitude_id));
    assert.equal(await text(page, '[data-field=user_id]'), 'ada-lovelace');
    assert.equal(await text(page, '[data-field=device_id]'), 'ada-laptop');
    assert.deepEqual(api.user_properties, { plan: 'pro', nickname: XSS, visits: 3, tags: ['a', 'b'], org: 'acme-labs' });
    assert.deepEqual(await rows(page, '#user-properties'),
      Object.entries(api.user_properties).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    // The markup is text: no element was made of it, no handler ran.
    assert.equal(await page.$eval('#user-properties tr[data-key=nickname] td.value', (td) => td.children.length), 0);
    assert.equal(await page.$$eval('#app-view img', (imgs) => imgs.length), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.deepEqual(await rows(page, '#amp-props'),
      Object.entries(api.amp_props).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    assert.ok(Object.keys(api.amp_props).length > 0);
    assert.deepEqual(await rows(page, '#lookup-groups'), [['org', 'acme-labs', '{"acme-labs":{"plan":"enterprise"}}']]);
    assert.deepEqual(await rows(page, '#computed-properties'), [['1', 'purchases_30d', '1']]);
    assert.deepEqual(await texts(page, '#cohort-ids .chip'), ['buyers · Buyers', 'pro · Pro plan']);
    const [rec] = api.recommendations;
    const recCells = (await rows(page, '#lookup-recs'))[0];
    assert.deepEqual(recCells.slice(0, 3), ['r1', rec.is_control ? 'control' : 'treatment', rec.recommendation_type]);
    assert.deepEqual(await texts(page, '#lookup-recs .chip.item'), rec.items);
    assert.equal(rec.items.length, 3);
    if (!rec.is_control) {
      for (const i of rec.items) assert.ok(i.startsWith('sku-0-') && i !== item(0, 0) && i !== item(0, 1), i);
    }
    const events = await rows(page, '#recent-events');
    assert.deepEqual(events.map((e) => [e[1], e[4]]), api.recent_events.map((e) => [e.event_type, e.insert_id]));
    const known = events.map((e) => e[4]).filter((id) => id.startsWith('ada-'));
    assert.deepEqual(known, ['ada-purchase', 'ada-view-2', 'ada-view-1'], 'newest first');
    const purchase = events.find((e) => e[4] === 'ada-purchase');
    assert.equal(purchase[0], new Date(t0 + 2000).toISOString().replace('T', ' ').slice(0, 19));
    assert.deepEqual(JSON.parse(purchase[2]), { amount: 12.5, note: '<script>window.__pwned=2</script>' });
    assert.equal(await page.$$eval('#app-view script', (s) => s.length), 0);
    await shoot(page, shots, 'lookup');

    // By device_id, the same user; an unknown one says so.
    await page.select('#lookup-kind', 'device_id');
    await page.$eval('#lookup-id', (i) => { i.value = ''; });
    await page.type('#lookup-id', 'ada-laptop');
    await page.click('#lookup-form button[type=submit]');
    await page.waitForSelector('#lookup-result[data-loaded="device_id=ada-laptop"]');
    assert.equal(await text(page, '[data-field=user_id]'), 'ada-lovelace');
    await page.$eval('#lookup-id', (i) => { i.value = ''; });
    await page.type('#lookup-id', 'nobody');
    await page.click('#lookup-form button[type=submit]');
    await page.waitForSelector('#lookup-none');
    assert.equal(await text(page, '#lookup-none'), 'No such user: device_id nobody');

    // The recommendation: offline figures and the online report for a conversion event.
    await page.click('#tab-recs');
    await page.waitForSelector('[data-rec=r1] .report-form');
    const { training } = await server.adminOk('GET', `/projects/${SHOP.id}/recommendations/r1`);
    assert.equal(training.offline.k, 10, JSON.stringify(training));
    assert.equal(await text(page, '[data-rec=r1] [data-figure=hit_rate] b'), `${(training.offline.hit_rate * 100).toFixed(1)}%`);
    assert.equal(await text(page, '[data-rec=r1] [data-figure=ndcg] b'), training.offline.ndcg.toLocaleString('en-US', { maximumFractionDigits: 3 }));
    assert.deepEqual(await texts(page, '[data-rec=r1] .figure > span'), ['hit rate@10', 'NDCG@10', 'users measured', 'held out']);
    await page.type('[data-rec=r1] input[name=conversion_event]', 'Purchase');
    await page.click('[data-rec=r1] .report-form button[type=submit]');
    await page.waitForSelector('[data-rec=r1] .report-result[data-loaded=Purchase]');
    const report = await rows(page, '[data-rec=r1] .report-table');
    const { groups } = expected;
    assert.deepEqual(report.map((r) => r.slice(0, 4)), [
      ['control', String(groups.control.length), String(groups.control.length), '1'],
      ['treatment', String(groups.treatment.length), String(groups.treatment.length), String(expected.treatmentConverted)],
    ]);
    const lift = `${expected.lift >= 0 ? '+' : ''}${(expected.lift * 100).toFixed(1)}%`;
    assert.equal(await text(page, '[data-rec=r1] [data-lift]'), lift);
    await shoot(page, shots, 'recommendations');

    // For the README (PROFILED_CONSOLE_SCREENSHOT=path): traffic that rises and falls (new
    // viewers, some signing up for the pro plan or buying, and profile reads), and the overview
    // while it goes on, checked like the others.
    if (process.env.PROFILED_CONSOLE_SCREENSHOT) {
      await page.click('#tab-overview');
      const client = await sdkClient(server, SHOP.api_key);
      const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
      let rounds = 0;
      let stop = false;
      const traffic = (async () => {
        for (; !stop; rounds++) {
          const n = Math.round(200 + 120 * Math.sin(rounds / 3));
          const events = [];
          for (let i = 0; i < n; i++) {
            const user = `visitor-${rounds}-${i}`;
            events.push(['Product Viewed', { product_id: item(i % CLUSTERS, rounds % PER_CLUSTER) }, { user_id: user }]);
            if (i % 25 === rounds % 25) events.push(['Purchase', { amount: 5 }, { user_id: user }]);
          }
          await sdkTrack(client, events);
          await client.identify(new Identify().set('plan', 'pro'), { user_id: `visitor-${rounds}-0` }).promise;
          for (let i = 0; i < n / 5; i++) await server.userData({ user_id: `visitor-${rounds}-${i}` }, { secret: SHOP.secret_key });
          await sleep(500);
        }
      })();
      await until('25 rounds of traffic', () => (rounds >= 25 ? true : undefined), 120000);
      const readme = await shoot(page, shots, 'overview-readme');
      stop = true;
      await traffic;
      fs.copyFileSync(readme.file, process.env.PROFILED_CONSOLE_SCREENSHOT);
    }

    // Signing out forgets the token; a reload asks for it again.
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in-view:not([hidden])');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.$eval('body', (b) => b.textContent.includes('ada-laptop') || b.textContent.includes('purchases_30d')), false,
      'no data stays on the page');
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('#sign-in-view:not([hidden])');

    // Chromium logs each 4xx answer as a failed resource: the wrong token's 401 and the unknown
    // device's 404 are the only such lines allowed.
    const expectedLines = [/status of 401 .*"url":"[^"]*\/admin\/v1\/projects"/, /status of 404 .*\/users\?device_id=nobody&/];
    const errors = watch.errors.filter((e) => !expectedLines.some((re) => re.test(e)));
    assert.equal(watch.errors.length - errors.length, 2, JSON.stringify(watch.errors));
    assert.deepEqual({ ...watch.problems(), errors }, { offHost: [], errors: [], failed: [] });
    await page.close();
  });

  it("plots no sample and a single sample, shows a backfill's progress, and says when cohorts are not sampled", async () => {
    // Rates sampled hourly (none yet), cohort sizes daily: the one sample taken at start-up,
    // of the cohort the project's definitions file gives it.
    const dir = makeTempDir('profiled-console-defs-');
    const file = path.join(dir, 'definitions.json');
    fs.writeFileSync(file, JSON.stringify({ cohorts: [{ id: 'pro', ...cohort('Pro plan', userPropCond('plan', 'is', ['pro'])) }] }));
    // Backfills read 5 logged events at a time, 100 ms apart.
    const quiet = await startServer({
      config: config([{ ...SHOP, definitions: file }], 3600, 86400, { backfill_chunk_events: 5, backfill_chunk_delay_ms: 100 }),
    });
    try {
      const { page, watch } = await signedIn(browser, quiet);
      await page.waitForSelector('#cohorts-chart svg');
      assert.equal(await page.$$eval('#rates-chart path.series', (ps) => ps.length), 0);
      assert.equal(await text(page, '#rates-chart .no-data'), 'No samples yet');
      assert.deepEqual(await texts(page, '#rates-chart .legend > span'), ['events ingested/s', 'profile reads/s', 'requests/s']);
      const one = await page.$$eval('#cohorts-chart path.series', (ps) => ps.map((p) => [p.getAttribute('data-series'), p.getAttribute('data-points'), p.getAttribute('d')]));
      assert.equal(one.length, 1, JSON.stringify(one));
      assert.deepEqual(one[0].slice(0, 2), ['pro', '1']);
      assert.match(one[0][2], /^M[\d.]+,[\d.]+$/);
      assert.equal(await page.$$eval('#cohorts-chart circle', (cs) => cs.length), 1);
      assert.deepEqual(await texts(page, '#cohorts-chart .legend > span'), ['pro (0)']);
      await shoot(page, shots, 'overview-sparse');

      // A computation over 300 logged events backfills in 60 chunks (about 6 s): the overview,
      // refreshed every 2 s, shows it backfilling with its progress bar and the events scanned,
      // then ready.
      await quiet.trackOk(Array.from({ length: 300 }, (_, i) => ({ user_id: `reader-${i % 30}`, event_type: 'Purchase', time: Date.now() - 60000 + i })),
        { apiKey: SHOP.api_key });
      await quiet.adminOk('PUT', `/projects/${SHOP.id}/computations/1`, COMPUTATION);
      const backfilling = await until('the computation backfilling on the page', async () => {
        const r = await page.$$eval('#computations-table tbody tr td.status-cell', (tds) => tds.map((td) => ({
          status: td.querySelector('.status').textContent,
          progress: td.querySelector('progress')?.value,
          text: td.textContent,
        })));
        return r.length === 1 && r[0].status === 'backfilling' && /[1-9][\d,]* events scanned$/.test(r[0].text) ? r[0] : undefined;
      });
      assert.match(backfilling.text, /^backfilling \d+%[\d,]+ events scanned$/);
      assert.ok(backfilling.progress >= 0 && backfilling.progress < 1, JSON.stringify(backfilling));
      await until('the computation ready on the page', async () =>
        ((await texts(page, '#computations-table td.status-cell')).join() === 'ready' ? true : undefined), 30000);
      assert.deepEqual(watch.problems(), { offHost: [], errors: [], failed: [] });
      await page.close();
    } finally {
      await quiet.dispose();
    }
    // Cohort sizes never sampled (cohort_sample_seconds = 0): the plot says so.
    const unsampled = await startServer({ config: config([SHOP], 3600, 0) });
    try {
      const { page, watch } = await signedIn(browser, unsampled);
      await page.waitForSelector('#cohorts-chart p.empty');
      assert.equal(await text(page, '#cohorts-chart p.empty'), 'Cohort sizes are not sampled on this server ([console] cohort_sample_seconds = 0).');
      assert.equal(await page.$$eval('#cohorts-chart svg', (s) => s.length), 0);
      assert.deepEqual(watch.problems(), { offHost: [], errors: [], failed: [] });
      await page.close();
    } finally {
      await unsampled.dispose();
    }
  });
});
