// The official @amplitude/analytics-node SDK, unchanged, pointed at profiled with
// `serverUrl` (reference §4.1). What it sends is read back through the Profile API.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import amplitude from '@amplitude/analytics-node';
import { AMP, dayMs, describe, it, SEED, sharedServer, uid } from './harness.js';

const { createInstance, Identify, Revenue } = amplitude;
const require = createRequire(import.meta.url);
const SDK_VERSION = require('@amplitude/analytics-node/package.json').version;

describe('@amplitude/analytics-node', () => {
  const h = sharedServer({ projects: [SEED, AMP] });

  async function client(apiKey, options = {}) {
    const c = createInstance();
    await c.init(apiKey, {
      serverUrl: `${h.server.base}/2/httpapi`,
      flushIntervalMillis: 50,
      logLevel: 0, // None: keep the test output clean
      ...options,
    }).promise;
    return c;
  }

  // Waits for every result; asserts each one is the SDK's success.
  async function allOk(c, promises) {
    await c.flush().promise;
    const results = await Promise.all(promises);
    for (const r of results) assert.equal(r.code, 200, `${r.event.event_type}: ${r.code} ${r.message}`);
    return results;
  }

  it('track, identify with every operation, setGroup and revenue land in the profile', async () => {
    const c = await client(SEED.api_key);
    const user = uid('sdk-user');
    const device = uid('sdk-device');
    const opts = { user_id: user, device_id: device };
    const pending = [];
    pending.push(c.track('Song Played', { title: 'Hey Jude', plays: 3, tags: ['x'] }, opts).promise);
    pending.push(c.track({ event_type: 'Profile Updated', user_properties: { favorite: 'jazz' } }, undefined, opts).promise);
    pending.push(
      c.identify(
        new Identify()
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
        opts,
      ).promise,
    );
    pending.push(
      c.identify(
        new Identify()
          .set('plan', 'enterprise')
          .setOnce('signup', '2099-12-31')
          .add('logins', 3)
          .append('tags', ['b', 'c'])
          .prepend('history', 'h0')
          .preInsert('pre', ['y', 'w'])
          .postInsert('post', ['q', 'r'])
          .remove('colors', 'red')
          .unset('temp'),
        opts,
      ).promise,
    );
    pending.push(c.setGroup('org', 'acme', opts).promise);
    pending.push(
      c.revenue(new Revenue().setProductId('sku-1').setPrice(9.99).setQuantity(2).setRevenueType('purchase'), opts).promise,
    );
    await allOk(c, pending);

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
    const byUser = await h.server.userData({ user_id: user });
    assert.equal(byUser.user_id, user);
    assert.deepEqual(byUser.user_properties, expected);
    const byDevice = await h.server.userData({ device_id: device });
    assert.equal(byDevice.amplitude_id, byUser.amplitude_id);

    // clearAll, in its own call as the SDK requires, empties the profile; later sets apply.
    await allOk(c, [c.identify(new Identify().clearAll(), opts).promise]);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, {});
    await allOk(c, [c.identify(new Identify().set('after', 'clear').add('logins', 1), opts).promise]);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { after: 'clear', logins: 1 });
  });

  it('built-in fields and the SDK library appear in amp_props (amplitude dialect)', async () => {
    const c = await client(AMP.api_key);
    const user = uid('sdk-amp');
    const device = uid('sdk-amp-device');
    const base = { user_id: user, device_id: device };
    await allOk(c, [
      c.track('Opened', { screen: 'home' }, {
        ...base,
        time: dayMs(2024, 1, 15),
        platform: 'Node.js',
        os_name: 'linux',
        os_version: '6.1',
        country: 'Germany',
        city: 'Berlin',
        language: 'de-DE',
        app_version: '5.0.0',
      }).promise,
      c.track('Opened', undefined, { ...base, time: dayMs(2024, 2, 20), app_version: '5.1.0' }).promise,
      c.identify(new Identify().set('tier', 'gold'), base).promise,
    ]);
    const d = await h.server.userData({ user_id: user, get_amp_props: 'true' }, { secret: AMP.secret_key });
    assert.deepEqual(d, {
      recommendations: null,
      user_id: user,
      device_id: device,
      amp_props: {
        platform: 'Node.js',
        os_name: 'linux',
        os_version: '6.1',
        country: 'Germany',
        city: 'Berlin',
        language: 'German',
        app_version: '5.1.0',
        start_version: '5.0.0',
        library: `amplitude-node-ts/${SDK_VERSION}`,
        first_used: '2024-01-15',
        last_used: '2024-02-20',
        tier: 'gold',
      },
      cohort_ids: null,
    });
  });

  it('useBatch with a /batch serverUrl posts to /batch', async () => {
    const before = await h.server.metrics();
    const c = await client(SEED.api_key, { serverUrl: `${h.server.base}/batch`, useBatch: true });
    const user = uid('sdk-batch');
    const opts = { user_id: user, device_id: uid('sdk-batch-device') };
    await allOk(c, [
      c.track('A', { i: 1 }, opts).promise,
      c.identify(new Identify().set('via', 'batch').add('n', 2), opts).promise,
      c.identify(new Identify().add('n', 3), opts).promise,
    ]);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { via: 'batch', n: 5 });
    const after = await h.server.metrics();
    const key = 'profiled_http_requests_total{route="/batch",status="200"}';
    assert.ok((after.get(key) ?? 0) > (before.get(key) ?? 0), 'the SDK posted to /batch');
  });

  it('minIdLength lets short ids through; without it they are refused with code 400', async () => {
    const short = `s${Math.random().toString(36).slice(2, 4)}`.padEnd(3, 'z');
    const lenient = await client(SEED.api_key, { minIdLength: 3 });
    await allOk(lenient, [lenient.identify(new Identify().set('short', true), { user_id: short }).promise]);
    assert.deepEqual((await h.server.userData({ user_id: short })).user_properties, { short: true });

    const strict = await client(SEED.api_key);
    const other = `t${Math.random().toString(36).slice(2, 4)}`.padEnd(3, 'z');
    const p = strict.identify(new Identify().set('short', true), { user_id: other }).promise;
    await strict.flush().promise;
    const r = await p;
    assert.equal(r.code, 400, r.message);
    assert.equal((await h.server.profile({ user_id: other })).status, 404);
  });

  it('the SDK drops only the events a 400 names and delivers the rest on retry', async () => {
    // No explicit flush: the SDK's own scheduled flush uses its retry logic.
    const c = await client(SEED.api_key);
    const good = uid('sdk-good');
    const pGood = c.identify(new Identify().set('ok', 1), { user_id: good }).promise;
    const pBad = c.identify(new Identify().set('ok', 1), { user_id: 'undefined' }).promise;
    const pGood2 = c.track('After', undefined, { user_id: good }).promise;
    const [rGood, rBad, rGood2] = await Promise.all([pGood, pBad, pGood2]);
    assert.equal(rBad.code, 400, rBad.message);
    assert.equal(rGood.code, 200, rGood.message);
    assert.equal(rGood2.code, 200, rGood2.message);
    assert.deepEqual((await h.server.userData({ user_id: good })).user_properties, { ok: 1 });
  });

  it('an unknown api key makes the SDK drop the batch with code 400', async () => {
    const c = await client('not-a-project-key');
    const user = uid('sdk-nokey');
    const p = c.track('X', undefined, { user_id: user }).promise;
    await c.flush().promise;
    const r = await p;
    assert.equal(r.code, 400, r.message);
    assert.match(r.message, /Invalid API key/);
    assert.equal((await h.server.profile({ user_id: user })).status, 404);
  });

  it('events with the same insert_id are applied once', async () => {
    const c = await client(SEED.api_key);
    const user = uid('sdk-dedup');
    const device = uid('sdk-dedup-device');
    const insert_id = uid('ins');
    const mk = () => c.identify(new Identify().add('count', 1), { user_id: user, device_id: device, insert_id }).promise;
    await allOk(c, [mk(), mk()]);
    await allOk(c, [mk()]);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { count: 1 });
  });
});
