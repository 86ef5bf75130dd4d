// Every documented way an ingestion request fails (reference §2.1/§2.2), with the exact
// status and JSON body the SDKs read, and proof that a refused batch applied nothing.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { describe, it, rawRequest, sharedServer, startServer, SEED, uid, after, before } from './harness.js';

const MiB = 1024 * 1024;
const INVALID_IDS = [
  'anonymous',
  'nil',
  'none',
  'null',
  'n/a',
  'na',
  'undefined',
  'unknown',
  '',
  '00000000-0000-0000-0000-000000000000',
  '{}',
  'lmy47d',
  '0',
  '-1',
];
// The same list is matched without regard to case.
const INVALID_IDS_OTHER_CASE = ['Anonymous', 'NIL', 'None', 'NULL', 'N/A', 'NA', 'Undefined', 'UNKNOWN', 'LMY47D'];
const RESERVED_EVENT_TYPES = [
  '[Amplitude] Start Session',
  '[Amplitude] End Session',
  '[Amplitude] Revenue',
  '[Amplitude] Revenue (Verified)',
  '[Amplitude] Revenue (Unverified)',
  '[Amplitude] Merged User',
];

function nest(levels) {
  let v = { leaf: 1 };
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

// A JSON body of exactly `size` bytes: one valid event padded with an event property.
function paddedBody(size, user_id) {
  const base = { api_key: SEED.api_key, events: [{ user_id, event_type: 'Big', event_properties: { pad: '' } }] };
  const overhead = Buffer.byteLength(JSON.stringify(base));
  base.events[0].event_properties.pad = 'x'.repeat(size - overhead);
  const text = JSON.stringify(base);
  assert.equal(Buffer.byteLength(text), size);
  return text;
}

describe('ingest errors', () => {
  const h = sharedServer();

  // Sends `events`; asserts a 400 whose body has exactly the given index maps.
  async function expectInvalid(events, maps, { error = 'Invalid field values on some events', options } = {}) {
    const res = await h.server.track(events, { options });
    assert.equal(res.status, 400, res.text);
    const b = res.json;
    assert.equal(b.code, 400, res.text);
    if (error !== null) assert.equal(b.error, error, res.text);
    assert.deepEqual(b.events_with_invalid_fields ?? {}, maps.invalid ?? {}, res.text);
    assert.deepEqual(b.events_with_missing_fields ?? {}, maps.missing ?? {}, res.text);
    assert.deepEqual(b.events_with_invalid_id_lengths ?? {}, maps.idLength ?? {}, res.text);
    return b;
  }

  async function expectNoUser(user_id) {
    const res = await h.server.profile({ user_id });
    assert.equal(res.status, 404, `user ${user_id} must not exist: ${res.text}`);
  }

  it('an empty body is "Missing request body"', async () => {
    for (const body of ['', '   \n']) {
      const res = await h.server.request('POST', '/2/httpapi', { body, headers: { 'Content-Type': 'application/json' } });
      assert.equal(res.status, 400);
      assert.deepEqual(res.json, { code: 400, error: 'Missing request body' });
    }
  });

  it('a body that is not JSON is "Invalid JSON request body"', async () => {
    for (const body of ['{"api_key":', 'not json', '[1,2]']) {
      const res = await h.server.request('POST', '/2/httpapi', { body, headers: { 'Content-Type': 'application/json' } });
      assert.equal(res.status, 400, body);
      assert.equal(res.json.code, 400);
      assert.equal(res.json.error, 'Invalid JSON request body');
    }
  });

  it('a missing api_key names the field', async () => {
    const res = await h.server.request('POST', '/2/httpapi', { json: { events: [{ user_id: uid('u'), event_type: 'x' }] } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { code: 400, error: 'Request missing required field', missing_field: 'api_key' });
  });

  it('an unknown api_key is refused with "Invalid API key" and applies nothing', async () => {
    const user = uid('u');
    const res = await h.server.track([{ user_id: user, event_type: 'x' }], { apiKey: 'no-such-key' });
    assert.equal(res.status, 400);
    assert.equal(res.json.code, 400);
    assert.ok(res.json.error.startsWith('Invalid API key'), res.text);
    await expectNoUser(user);
  });

  it('a secret key is not an api key', async () => {
    const res = await h.server.track([{ user_id: uid('u'), event_type: 'x' }], { apiKey: SEED.secret_key });
    assert.equal(res.status, 400);
    assert.ok(res.json.error.startsWith('Invalid API key'), res.text);
  });

  it('missing or empty events are refused', async () => {
    for (const body of [{ api_key: SEED.api_key }, { api_key: SEED.api_key, events: [] }]) {
      const res = await h.server.request('POST', '/2/httpapi', { json: body });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.code, 400, res.text);
    }
  });

  it('events that are not an array, or options.min_id_length out of range, are refused', async () => {
    const user = uid('u');
    const bodies = [
      { api_key: SEED.api_key, events: { user_id: user, event_type: 'x' } },
      { api_key: SEED.api_key, events: [{ user_id: user, event_type: 'x' }], options: { min_id_length: 0 } },
      { api_key: SEED.api_key, events: [{ user_id: user, event_type: 'x' }], options: { min_id_length: 'five' } },
      { api_key: SEED.api_key, events: ['not an object'] },
    ];
    for (const body of bodies) {
      const res = await h.server.request('POST', '/2/httpapi', { json: body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.code, 400, res.text);
    }
    await expectNoUser(user);
  });

  it('unknown top-level keys (as the SDKs send) are ignored', async () => {
    const user = uid('u');
    const res = await h.server.request('POST', '/2/httpapi', {
      json: {
        api_key: SEED.api_key,
        events: [{ user_id: user, event_type: 'x', user_properties: { ok: 1 } }],
        options: {},
        client_upload_time: new Date().toISOString(),
        request_metadata: { sdk: { metrics: { histogram: {} } } },
      },
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { ok: 1 });
  });

  it('each invalid user_id value is refused at its index, even with a valid device_id', async () => {
    for (const bad of [...INVALID_IDS, ...INVALID_IDS_OTHER_CASE]) {
      const good = uid('good');
      await expectInvalid(
        [
          { user_id: good, event_type: 'ok' },
          { user_id: bad, device_id: uid('device'), event_type: 'x' },
        ],
        { invalid: { user_id: [1] } },
      );
      await expectNoUser(good);
    }
  });

  it('each invalid device_id value is refused at its index, even with a valid user_id', async () => {
    for (const bad of [...INVALID_IDS, ...INVALID_IDS_OTHER_CASE]) {
      const good = uid('good');
      await expectInvalid(
        [
          { user_id: good, event_type: 'ok' },
          { user_id: uid('user'), device_id: bad, event_type: 'x' },
        ],
        { invalid: { device_id: [1] } },
      );
      await expectNoUser(good);
    }
  });

  it('ids that merely contain an invalid word are fine', async () => {
    const user = `null-${uid('x')}`;
    await h.server.trackOk([{ user_id: user, device_id: 'unknown-device-1', event_type: 'x', user_properties: { k: 1 } }]);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { k: 1 });
  });

  it('an event whose only id is shorter than 5 characters is refused as an id length error', async () => {
    const b1 = await expectInvalid([{ device_id: 'abcd', event_type: 'x' }], { idLength: { device_id: [0] } }, {
      error: 'Invalid id length for user_id or device_id',
    });
    assert.equal(b1.code, 400);
    await expectInvalid(
      [
        { user_id: uid('ok'), event_type: 'x' },
        { user_id: 'usr', event_type: 'x' },
      ],
      { idLength: { user_id: [1] } },
      { error: 'Invalid id length for user_id or device_id' },
    );
  });

  it('a short user_id next to a valid device_id is dropped, not refused', async () => {
    const device = uid('device');
    await h.server.trackOk([{ user_id: 'abcd', device_id: device, event_type: 'x', user_properties: { via: 'device' } }]);
    const d = await h.server.userData({ device_id: device });
    assert.ok(!('user_id' in d), JSON.stringify(d)); // seed dialect: left out for an anonymous device
    assert.deepEqual(d.user_properties, { via: 'device' });
    await expectNoUser('abcd');
  });

  it('ids of exactly 5 characters are accepted by default', async () => {
    const five = Math.random().toString(36).slice(2, 7).padEnd(5, 'z');
    await h.server.trackOk([{ user_id: five, event_type: 'x', user_properties: { five: true } }]);
    assert.deepEqual((await h.server.userData({ user_id: five })).user_properties, { five: true });
  });

  it('options.min_id_length lowers (and raises) the id length limit', async () => {
    const short = `q${Math.random().toString(36).slice(2, 4)}`.padEnd(3, 'z'); // 3 characters
    await h.server.trackOk([{ device_id: short, event_type: 'x', user_properties: { short: true } }], {
      options: { min_id_length: 3 },
    });
    assert.deepEqual((await h.server.userData({ device_id: short })).user_properties, { short: true });

    await expectInvalid([{ device_id: 'ab', event_type: 'x' }], { idLength: { device_id: [0] } }, {
      error: 'Invalid id length for user_id or device_id',
      options: { min_id_length: 3 },
    });

    const longer = uid('u').slice(0, 8);
    await expectInvalid([{ user_id: longer, event_type: 'x' }], { idLength: { user_id: [0] } }, {
      error: 'Invalid id length for user_id or device_id',
      options: { min_id_length: 20 },
    });
  });

  it('an event without any id is refused at its index', async () => {
    const res = await h.server.track([{ user_id: uid('ok'), event_type: 'x' }, { event_type: 'x' }]);
    assert.equal(res.status, 400);
    assert.equal(res.json.code, 400);
    const indices = Object.values({
      ...res.json.events_with_missing_fields,
      ...res.json.events_with_invalid_fields,
    }).flat();
    assert.deepEqual(indices, [1], res.text);
  });

  it('a missing or empty event_type is a missing field', async () => {
    const good = uid('good');
    await expectInvalid(
      [
        { user_id: good, event_type: 'ok' },
        { user_id: uid('u'), event_type: 'ok' },
        { user_id: uid('u') },
      ],
      { missing: { event_type: [2] } },
      { error: null },
    );
    await expectInvalid([{ user_id: uid('u'), event_type: '' }], { missing: { event_type: [0] } }, { error: null });
    await expectNoUser(good);
  });

  it('time must be integer epoch milliseconds', async () => {
    for (const time of ['2024-01-01T00:00:00Z', '1704067200000', 1704067200000.5, true, { ms: 1 }]) {
      await expectInvalid(
        [
          { user_id: uid('u'), event_type: 'ok', time: 1704067200000 },
          { user_id: uid('u'), event_type: 'x', time },
        ],
        { invalid: { time: [1] } },
      );
    }
  });

  it('reserved Amplitude event types are invalid', async () => {
    for (const event_type of RESERVED_EVENT_TYPES) {
      await expectInvalid([{ user_id: uid('u'), event_type }], { invalid: { event_type: [0] } });
    }
  });

  it('user_properties may not mix operations with plain keys', async () => {
    const user = uid('u');
    await expectInvalid(
      [{ user_id: user, event_type: '$identify', user_properties: { $set: { a: 1 }, b: 2 } }],
      { invalid: { user_properties: [0] } },
    );
    await expectNoUser(user);
  });

  it('an unknown $operation is invalid', async () => {
    await expectInvalid(
      [{ user_id: uid('u'), event_type: '$identify', user_properties: { $increment: { a: 1 } } }],
      { invalid: { user_properties: [0] } },
    );
  });

  it('$add with a non-numeric value is invalid', async () => {
    for (const value of ['abc', true, { n: 1 }, [1]]) {
      await expectInvalid(
        [{ user_id: uid('u'), event_type: '$identify', user_properties: { $add: { n: value } } }],
        { invalid: { user_properties: [0] } },
      );
    }
  });

  it('properties nested deeper than 40 levels are invalid; shallower ones are kept whole', async () => {
    await expectInvalid([{ user_id: uid('u'), event_type: 'x', event_properties: { deep: nest(45) } }], {
      invalid: { event_properties: [0] },
    });
    await expectInvalid(
      [{ user_id: uid('u'), event_type: '$identify', user_properties: { $set: { deep: nest(45) } } }],
      { invalid: { user_properties: [0] } },
    );
    const user = uid('u');
    await h.server.trackOk([
      { user_id: user, event_type: 'x', event_properties: { deep: nest(30) }, user_properties: { deep: nest(30) } },
    ]);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { deep: nest(30) });
  });

  it('more than 2000 events is 413 Payload too large; exactly 2000 is accepted', async () => {
    const user = uid('many');
    const events = (n) => Array.from({ length: n }, (_, i) => ({ user_id: user, event_type: 'e', user_properties: { $add: { n: 1 } }, insert_id: `${user}-${i}` }));
    const res = await h.server.track(events(2001));
    assert.equal(res.status, 413);
    assert.equal(res.json.code, 413);
    assert.equal(res.json.error, 'Payload too large');
    await expectNoUser(user);

    const ok = await h.server.trackOk(events(2000));
    assert.equal(ok.events_ingested, 2000);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { n: 2000 });
  });

  it('/2/httpapi answers a body over 1 MiB with 413 {"code":413,"error":"Payload too large"}', async () => {
    const user = uid('big');
    const res = await rawRequest(`${h.server.base}/2/httpapi`, {
      headers: { 'Content-Type': 'application/json' },
      body: paddedBody(MiB + 1024, user),
    });
    assert.ok(!res.error, `no HTTP answer to an oversized body: ${res.error?.message} ${res.raw ?? ''}`);
    assert.equal(res.status, 413, res.text);
    assert.deepEqual(res.json, { code: 413, error: 'Payload too large' });
    await expectNoUser(user);
  });

  it('/2/httpapi accepts a body just under 1 MiB', async () => {
    const user = uid('big');
    const res = await rawRequest(`${h.server.base}/2/httpapi`, {
      headers: { 'Content-Type': 'application/json' },
      body: paddedBody(MiB - 4096, user),
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.code, 200);
    assert.equal((await h.server.profile({ user_id: user })).status, 200);
  });

  it('/batch accepts bodies over 1 MiB (its limit is 20 MiB)', async () => {
    const user = uid('batch');
    const res = await rawRequest(`${h.server.base}/batch`, {
      headers: { 'Content-Type': 'application/json' },
      body: paddedBody(2 * MiB, user),
    });
    assert.ok(!res.error, `no HTTP answer: ${res.error?.message} ${res.raw ?? ''}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.code, 200);
    assert.equal((await h.server.profile({ user_id: user })).status, 200);
  });

  it('/batch answers a body over 20 MiB with 413', async () => {
    const user = uid('batch');
    const res = await rawRequest(`${h.server.base}/batch`, {
      headers: { 'Content-Type': 'application/json' },
      body: paddedBody(20 * MiB + 1024, user),
    });
    assert.ok(!res.error, `no HTTP answer to an oversized body: ${res.error?.message} ${res.raw ?? ''}`);
    assert.equal(res.status, 413, res.text);
    assert.deepEqual(res.json, { code: 413, error: 'Payload too large' });
    await expectNoUser(user);
  });

  it('any content type is accepted when the body is JSON', async () => {
    for (const ct of ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', null]) {
      const user = uid('ct');
      const headers = ct ? { 'Content-Type': ct } : {};
      const body = JSON.stringify({ api_key: SEED.api_key, events: [{ user_id: user, event_type: 'x', user_properties: { ct: String(ct) } }] });
      const res = await h.server.request('POST', '/2/httpapi', { body, headers });
      assert.equal(res.status, 200, `${ct}: ${res.text}`);
      assert.equal(res.json.code, 200);
      assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { ct: String(ct) });
    }
  });

  it('a chunked request body (no Content-Length) is accepted', async () => {
    const user = uid('chunked');
    const text = JSON.stringify({ api_key: SEED.api_key, events: [{ user_id: user, event_type: 'x', user_properties: { chunked: true } }] });
    const res = await new Promise((resolve, reject) => {
      const u = new URL(`${h.server.base}/2/httpapi`);
      const req = (u.protocol === 'https:' ? https : http).request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false, headers: { 'Content-Type': 'application/json' } }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode, text: body }));
      });
      req.on('error', reject);
      for (let i = 0; i < text.length; i += 16) req.write(text.slice(i, i + 16));
      req.end();
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(JSON.parse(res.text).code, 200);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { chunked: true });
  });

  it('gzip bodies are accepted on /2/httpapi and /batch', async () => {
    for (const p of ['/2/httpapi', '/batch']) {
      const user = uid('gz');
      const body = zlib.gzipSync(JSON.stringify({ api_key: SEED.api_key, events: [{ user_id: user, event_type: 'x', user_properties: { gz: p } }] }));
      const res = await h.server.request('POST', p, { body, headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.code, 200);
      assert.equal(res.json.events_ingested, 1);
      assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { gz: p });
    }
  });

  it('a corrupt gzip body is a 400 with a code', async () => {
    const good = zlib.gzipSync(JSON.stringify({ api_key: SEED.api_key, events: [{ user_id: uid('gz'), event_type: 'x' }] }));
    const truncated = good.subarray(0, good.length - 12);
    for (const body of [Buffer.from('definitely not gzip'), truncated]) {
      const res = await h.server.request('POST', '/2/httpapi', { body, headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' } });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.code, 400, res.text);
    }
  });

  it('a gzip body that inflates past 1 MiB is 413 on /2/httpapi', async () => {
    const user = uid('gzbig');
    const body = zlib.gzipSync(paddedBody(MiB + 1024, user));
    assert.ok(body.length < 64 * 1024);
    const res = await h.server.request('POST', '/2/httpapi', { body, headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' } });
    assert.equal(res.status, 413);
    assert.deepEqual(res.json, { code: 413, error: 'Payload too large' });
    await expectNoUser(user);
  });

  it('an unknown path is 404 with a JSON body', async () => {
    for (const [method, p] of [
      ['GET', '/v2/userprofile'],
      ['POST', '/nope'],
      ['POST', '/2/httpapix'],
    ]) {
      const res = await h.server.request(method, p, method === 'POST' ? { body: '{}' } : {});
      assert.equal(res.status, 404, `${method} ${p}`);
      assert.match(res.headers['content-type'], /^application\/json/, `${method} ${p}`);
      assert.deepEqual(res.json, { code: 404, error: 'Not found' }, `${method} ${p}`);
    }
  });

  it("a path below an ingestion path is Amplitude's 400 Invalid request path and applies nothing", async () => {
    const user = uid('badpath');
    const body = JSON.stringify({ api_key: SEED.api_key, events: [{ user_id: user, event_type: 'x' }] });
    for (const [method, p] of [
      ['POST', '/2/httpapi/'],
      ['POST', '/2/httpapi/extra'],
      ['POST', '/batch/'],
      ['POST', '/identify/'],
      ['GET', '/identify/x'],
    ]) {
      const opts = method === 'POST' ? { body, headers: { 'Content-Type': 'application/json' } } : {};
      const res = await h.server.request(method, p, opts);
      assert.equal(res.status, 400, `${method} ${p}`);
      assert.match(res.headers['content-type'], /^application\/json/, `${method} ${p}`);
      assert.deepEqual(res.json, { code: 400, error: 'Invalid request path' }, `${method} ${p}`);
    }
    await expectNoUser(user);
  });

  it('a wrong method on a known path is 405', async () => {
    for (const [method, p] of [
      ['GET', '/2/httpapi'],
      ['PUT', '/batch'],
      ['DELETE', '/identify'],
      ['POST', '/v1/userprofile'],
    ]) {
      const res = await h.server.request(method, p);
      assert.equal(res.status, 405, `${method} ${p}`);
    }
  });

  it('a batch refused with 400 applies none of its valid events', async () => {
    const user = uid('keep');
    const device = uid('device');
    await h.server.trackOk([{ user_id: user, device_id: device, event_type: 'x', user_properties: { n: 1, keep: 'me' } }]);
    const before = await h.server.userData({ user_id: user });
    const newcomer = uid('new');
    await expectInvalid(
      [
        { user_id: user, event_type: '$identify', user_properties: { $set: { n: 2 }, $unset: { keep: '-' } } },
        { device_id: device, event_type: 'x', user_properties: { via_device: true } },
        { user_id: newcomer, device_id: uid('device'), event_type: 'x' },
        { user_id: user, event_type: 'x', time: 'yesterday' },
      ],
      { invalid: { time: [3] } },
    );
    assert.deepEqual(await h.server.userData({ user_id: user }), before);
    await expectNoUser(newcomer);
  });

  it('/batch validates like /2/httpapi', async () => {
    const res = await h.server.track(
      [
        { user_id: uid('u'), event_type: 'x' },
        { user_id: 'null', event_type: 'x' },
        { user_id: uid('u') },
      ],
      { path: '/batch' },
    );
    assert.equal(res.status, 400);
    assert.equal(res.json.code, 400);
    assert.equal(res.json.error, 'Invalid field values on some events');
    assert.deepEqual(res.json.events_with_invalid_fields, { user_id: [1] });
    assert.deepEqual(res.json.events_with_missing_fields, { event_type: [2] });
  });

  it('the mixed-error body lists every kind of problem', async () => {
    const b = await expectInvalid(
      [
        { user_id: 'null', event_type: 'x' },
        { device_id: 'abc', event_type: 'x' },
        { user_id: uid('u') },
        { user_id: uid('u'), event_type: '[Amplitude] Start Session' },
      ],
      { invalid: { user_id: [0], event_type: [3] }, missing: { event_type: [2] }, idLength: { device_id: [1] } },
    );
    assert.ok(Array.isArray(b.details ?? []));
  });
});

describe('throttling (throttle_events_per_second = 2, throttle_window_seconds = 10)', () => {
  let server;
  before(async () => {
    server = await startServer({ throttle: 2, throttleWindow: 10 });
  });
  after(async () => {
    await server?.dispose();
  });

  it('the 429 body gives each id its rate in events per second over the window, not its event count', async () => {
    const device = uid('rate');
    const user = uid('rateuser');
    // 25 events in a 10 s window are 2.5 events/s, reported rounded up.
    let res = await server.track(Array.from({ length: 25 }, () => ({ device_id: device, user_id: user, event_type: 'e' })));
    assert.equal(res.status, 429, res.text);
    assert.equal(res.json.eps_threshold, 2);
    assert.deepEqual(res.json.throttled_devices, { [device]: 3 }, res.text);
    assert.deepEqual(res.json.throttled_users, { [user]: 3 }, res.text);
    // Events admitted earlier in the window count: 15 admitted, then 10 more are 25 in 10 s.
    const other = uid('rate2');
    await server.trackOk(Array.from({ length: 15 }, () => ({ device_id: other, event_type: 'e' })));
    res = await server.track(Array.from({ length: 10 }, () => ({ device_id: other, event_type: 'e' })));
    assert.equal(res.status, 429, res.text);
    assert.deepEqual(res.json.throttled_devices, { [other]: 3 }, res.text);
  });
});

describe('throttling (throttle_events_per_second = 5, throttle_window_seconds = 1)', () => {
  let server;
  before(async () => {
    server = await startServer({ throttle: 5 });
  });
  after(async () => {
    await server?.dispose();
  });

  it('20 events for one device in one batch are answered 429 and applied nowhere', async () => {
    const device = uid('hot');
    const events = Array.from({ length: 20 }, (_, i) => ({ device_id: device, event_type: 'e', user_properties: { $add: { n: 1 } }, insert_id: `t${i}` }));
    const metricsBefore = await server.metrics();
    const res = await server.track(events);
    assert.equal(res.status, 429, res.text);
    const b = res.json;
    assert.equal(b.code, 429);
    assert.equal(b.error, 'Too many requests for some devices and users');
    assert.equal(b.eps_threshold, 5);
    assert.deepEqual(Object.keys(b.throttled_devices), [device]);
    assert.equal(b.throttled_devices[device], 20, res.text); // 20 events in a 1 s window
    assert.deepEqual(b.throttled_users, {});
    assert.deepEqual(b.throttled_events, Array.from({ length: 20 }, (_, i) => i));
    assert.equal((await server.profile({ device_id: device })).status, 404);
    const metricsAfter = await server.metrics();
    const throttled = 'profiled_events_throttled_total';
    assert.equal(metricsAfter.get(throttled) - metricsBefore.get(throttled), 20);
    const r429 = 'profiled_http_requests_total{route="/2/httpapi",status="429"}';
    assert.equal((metricsAfter.get(r429) ?? 0) - (metricsBefore.get(r429) ?? 0), 1);

    // Another device within its limit is served normally right after.
    const calm = uid('calm');
    const ok = await server.trackOk([1, 2, 3].map((i) => ({ device_id: calm, event_type: 'e', user_properties: { $add: { n: i } } })));
    assert.equal(ok.events_ingested, 3);
    assert.deepEqual((await server.userData({ device_id: calm })).user_properties, { n: 6 });
  });

  it('a user over the limit across several devices is listed in throttled_users', async () => {
    const user = uid('busy');
    const events = Array.from({ length: 12 }, (_, i) => ({ user_id: user, device_id: uid(`dev${i}`), event_type: 'e' }));
    const res = await server.track(events);
    assert.equal(res.status, 429, res.text);
    assert.deepEqual(Object.keys(res.json.throttled_users), [user]);
    assert.ok(res.json.throttled_users[user] > 5);
    assert.deepEqual(res.json.throttled_devices, {});
    assert.deepEqual(res.json.throttled_events, Array.from({ length: 12 }, (_, i) => i));
  });

  it('a batch answered 429 leaves no trace: its events resent with the same insert_ids apply', async () => {
    const device = uid('retry');
    const ev = (i) => ({ device_id: device, event_type: '$identify', insert_id: `r${i}`, user_properties: { $add: { n: 1 } } });
    const refused = await server.track([0, 1, 2, 3, 4, 5, 6].map(ev));
    assert.equal(refused.status, 429, refused.text);
    assert.equal((await server.profile({ device_id: device })).status, 404);
    const ok = await server.trackOk([0, 1, 2, 3, 4].map(ev));
    assert.equal(ok.code, 200);
    assert.deepEqual((await server.userData({ device_id: device })).user_properties, { n: 5 });
  });

  it('throttled_events lists only the events of the device over its limit', async () => {
    const calm = uid('calm');
    const hot = uid('hot');
    const events = [
      { device_id: calm, event_type: 'e' },
      ...Array.from({ length: 10 }, () => ({ device_id: hot, event_type: 'e' })),
      { device_id: calm, event_type: 'e' },
    ];
    const res = await server.track(events);
    assert.equal(res.status, 429, res.text);
    assert.deepEqual(Object.keys(res.json.throttled_devices), [hot]);
    assert.deepEqual(res.json.throttled_events, Array.from({ length: 10 }, (_, i) => i + 1));
  });
});
