// The seed dialect validates against the seed OpenAPI document (issue 5 §2). harness.js
// validates every seed-dialect 2xx from GET /v1/userprofile the whole suite receives; this
// file checks the validator, the copy of the schema, and that the harness hook is wired.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AMP, configToml, describe, it, makeTempDir, SEED, seedChecks, Server, sharedServer, uid } from './harness.js';
import { validate, validateSeedProfile } from './seed-schema.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const valid = {
  userData: {
    user_id: 'u1',
    amplitude_id: 42,
    user_properties: { plan: 'pro', nested: { a: [1, null] } },
    computed_properties: { 7: 12 },
    cohort_ids: ['c9xk2'],
    recommendations: [{ rec_id: 'r1', child_ids: ['sku1'], is_control: false, recommendation_type: 'model', title: 'For you' }],
  },
};

function withUserData(patch) {
  return { userData: { ...valid.userData, ...patch } };
}

describe('the seed schema validator', () => {
  it('accepts a response of the seed shape, with or without user_id', () => {
    assert.deepEqual(validateSeedProfile(valid), []);
    const { user_id: _, ...anonymous } = valid.userData;
    assert.deepEqual(validateSeedProfile({ userData: anonymous }), []);
  });

  it('reports every kind of mismatch with its path', () => {
    const cases = [
      [withUserData({ user_id: null }), '$.userData.user_id: expected string, got null'],
      [withUserData({ amplitude_id: '42' }), '$.userData.amplitude_id: expected integer'],
      [withUserData({ amplitude_id: 4.5 }), '$.userData.amplitude_id: expected integer'],
      [withUserData({ amplitude_id: 2 ** 64 }), '$.userData.amplitude_id: 18446744073709552000 is out of the int64 range'],
      [withUserData({ user_properties: [] }), '$.userData.user_properties: expected object'],
      [withUserData({ computed_properties: null }), '$.userData.computed_properties: expected object'],
      [withUserData({ cohort_ids: [7] }), '$.userData.cohort_ids[0]: expected string'],
      [withUserData({ recommendations: null }), '$.userData.recommendations: expected array'],
      [withUserData({ recommendations: [{ child_ids: [1] }] }), '$.userData.recommendations[0].child_ids[0]: expected string'],
      [withUserData({ recommendations: [{ is_control: 'no' }] }), '$.userData.recommendations[0].is_control: expected boolean'],
      [{ userData: 'x' }, '$.userData: expected object'],
      [[], '$: expected object'],
    ];
    for (const [body, message] of cases) {
      const errors = validateSeedProfile(body);
      assert.equal(errors.length, 1, `${JSON.stringify(body)}: ${errors.join('; ')}`);
      assert.ok(errors[0].startsWith(message), `"${errors[0]}" should start with "${message}"`);
    }
  });

  it('implements required, additionalProperties and enum, and refuses keywords it does not know', () => {
    const schema = { type: 'object', required: ['a'], additionalProperties: false, properties: { a: { enum: [1, 2] } } };
    assert.deepEqual(validate(schema, { a: 1 }), []);
    assert.deepEqual(validate(schema, {}), ['$: missing required property "a"']);
    assert.deepEqual(validate(schema, { a: 3 }), ['$.a: 3 is not one of [1,2]']);
    assert.deepEqual(validate(schema, { a: 1, b: 0 }), ['$.b: no value is allowed here']);
    assert.throws(() => validate({ type: 'string', pattern: '^a' }, 'a'), /does not implement the keyword "pattern"/);
  });

  it('the committed schema is the seed document in ../shared/seed when that is present', (t) => {
    const source = path.join(root, '../shared/seed/amplitude-user-profile-api-openapi.yml');
    if (!fs.existsSync(source)) {
      t.diagnostic(`${source} is absent; the committed copy tests/e2e/seed/ is used as is`);
      return;
    }
    const digest = crypto.createHash('sha256').update(fs.readFileSync(source)).digest('hex');
    const note = fs.readFileSync(path.join(root, 'tests/e2e/seed/README.md'), 'utf8');
    assert.ok(note.includes(digest), `the seed document changed (sha256 ${digest}); regenerate tests/e2e/seed/ as its README says`);
  });
});

describe('the harness validates seed-dialect profile responses', () => {
  // A stand-in server answering every request with `body`, to show the hook fails a test.
  async function fakeProfileServer(body) {
    const fake = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const dir = makeTempDir();
    const configPath = path.join(dir, 'profiled.toml');
    fs.writeFileSync(configPath, configToml({ dataDir: path.join(dir, 'data') }));
    const server = new Server({ dir, configPath, dataDir: path.join(dir, 'data'), args: ['serve', '--config', configPath] });
    server.base = `http://127.0.0.1:${fake.address().port}`;
    return { server, close: () => new Promise((resolve) => fake.close(resolve)) };
  }

  it('a seed-dialect answer with "user_id":null fails the request; the same answer in the Amplitude dialect does not', async () => {
    const { server, close } = await fakeProfileServer(withUserData({ user_id: null }));
    try {
      await assert.rejects(server.profile({ user_id: 'u' }), /user_id: expected string, got null/);
      await assert.rejects(server.userData({ user_id: 'u' }, { secret: SEED.secret_key }), /does not match the seed OpenAPI schema/);
      const res = await server.profile({ user_id: 'u' }, { secret: AMP.secret_key });
      assert.equal(res.status, 200);
    } finally {
      await close();
      await server.dispose();
    }
  });

  describe('against the real server', () => {
    const h = sharedServer();

    it("an anonymous device's seed profile validates and leaves out user_id", async () => {
      const device = uid('anon-device');
      await h.server.trackOk([{ device_id: device, event_type: '$identify', user_properties: { $set: { plan: 'free' } } }]);
      const before = seedChecks.validated;
      const d = await h.server.userData({ device_id: device, get_recs: 'true' });
      assert.equal(seedChecks.validated, before + 1);
      assert.ok(!('user_id' in d), JSON.stringify(d));
      assert.deepEqual(d.user_properties, { plan: 'free' });
      assert.deepEqual(d.recommendations, []);
      // The Amplitude dialect keeps null, as the real service does.
      await h.server.trackOk([{ device_id: device, event_type: 'x' }], { apiKey: AMP.api_key });
      const amp = await h.server.userData({ device_id: device }, { secret: AMP.secret_key });
      assert.equal(amp.user_id, null);
      assert.equal(amp.device_id, device);
    });
  });
});
