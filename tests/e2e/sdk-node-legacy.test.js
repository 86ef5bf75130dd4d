// The deprecated @amplitude/node SDK (reference §4.4) with its @amplitude/identify
// builder. It posts JSON without a Content-Type header and reads `code` from the body.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import legacy from '@amplitude/node';
import identifyPkg from '@amplitude/identify';
import { AMP, describe, it, SEED, sharedServer, uid } from './harness.js';

const { Identify } = identifyPkg;
const require = createRequire(import.meta.url);
const SDK_VERSION = require('@amplitude/node/package.json').version;

describe('@amplitude/node (legacy)', () => {
  const h = sharedServer({ projects: [SEED, AMP] });

  const init = (apiKey, options = {}) =>
    legacy.init(apiKey, { serverUrl: `${h.server.base}/2/httpapi`, retryTimeouts: [], ...options });

  it('logEvent with user_properties and identify with every operation land in the profile', async () => {
    const client = init(SEED.api_key);
    const user = uid('legacy-user');
    const device = uid('legacy-device');

    const r1 = await client.logEvent({
      event_type: 'Signed In',
      user_id: user,
      device_id: device,
      event_properties: { method: 'email' },
      user_properties: { plan: 'basic', seats: 1 },
    });
    assert.equal(r1.statusCode, 200);
    assert.equal(r1.status, 'success');
    assert.equal(r1.body.eventsIngested, 1);

    const first = new Identify()
      .set('plan', 'pro')
      .setOnce('signup', '2024-01-01')
      .add('seats', 4)
      .append('tags', 'a')
      .prepend('history', 'h1')
      .preInsert('pre', ['x'])
      .postInsert('post', ['p'])
      .set('colors', ['red', 'blue', 'red'])
      .set('temp', true);
    const r2 = await client.identify(user, device, first);
    assert.equal(r2.statusCode, 200);

    const second = new Identify()
      .setOnce('signup', '2030-01-01')
      .add('seats', -2)
      .append('tags', ['b'])
      .prepend('history', 'h0')
      .preInsert('pre', ['x', 'w'])
      .postInsert('post', ['p', 'q'])
      .remove('colors', 'red')
      .unset('temp');
    const r3 = await client.identify(user, device, second);
    assert.equal(r3.statusCode, 200);

    const d = await h.server.userData({ user_id: user });
    assert.deepEqual(d.user_properties, {
      plan: 'pro',
      seats: 3,
      signup: '2024-01-01',
      tags: ['a', 'b'],
      history: ['h0', 'h1'],
      pre: ['w', 'x'],
      post: ['p', 'q'],
      colors: ['blue'],
    });
    assert.equal((await h.server.userData({ device_id: device })).amplitude_id, d.amplitude_id);

    const r4 = await client.identify(user, device, new Identify().clearAll());
    assert.equal(r4.statusCode, 200);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, {});
  });

  it('several logEvents flushed together are one batch, applied in order', async () => {
    const client = init(SEED.api_key, { uploadIntervalInSec: 60 });
    const user = uid('legacy-batch');
    const pending = [1, 2, 3].map((i) =>
      client.logEvent({ event_type: 'Step', user_id: user, user_properties: { step: i, [`s${i}`]: true } }),
    );
    const flushed = await client.flush();
    assert.equal(flushed.statusCode, 200);
    assert.equal(flushed.body.eventsIngested, 3);
    for (const r of await Promise.all(pending)) assert.equal(r.statusCode, 200);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { step: 3, s1: true, s2: true, s3: true });
  });

  it('the library name reaches amp_props', async () => {
    const client = init(AMP.api_key);
    const user = uid('legacy-amp');
    const r = await client.logEvent({ event_type: 'X', user_id: user, platform: 'Node.js', user_properties: { k: 'v' } });
    assert.equal(r.statusCode, 200);
    const d = await h.server.userData({ user_id: user, get_amp_props: 'true' }, { secret: AMP.secret_key });
    assert.equal(d.amp_props.library, `amplitude-node/${SDK_VERSION}`);
    assert.equal(d.amp_props.platform, 'Node.js');
    assert.equal(d.amp_props.k, 'v');
  });

  it('minIdLength is sent as options.min_id_length', async () => {
    const short = `l${Math.random().toString(36).slice(2, 4)}`.padEnd(3, 'z');
    const lenient = init(SEED.api_key, { minIdLength: 3 });
    const ok = await lenient.logEvent({ event_type: 'X', user_id: short, user_properties: { short: 1 } });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual((await h.server.userData({ user_id: short })).user_properties, { short: 1 });

    const strict = init(SEED.api_key);
    const other = `m${Math.random().toString(36).slice(2, 4)}`.padEnd(3, 'z');
    const refused = await strict.logEvent({ event_type: 'X', user_id: other });
    assert.equal(refused.statusCode, 400);
    assert.equal((await h.server.profile({ user_id: other })).status, 404);
  });
});
