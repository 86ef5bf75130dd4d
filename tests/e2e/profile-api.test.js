// GET /v1/userprofile in both dialects (CONTRACT §4): exact response bodies, the get_*
// flags, every error, lookups by device_id, project isolation and CORS.
import assert from 'node:assert/strict';
import { AMP, dayMs, describe, it, SEED, sharedServer, uid } from './harness.js';

const JAN15 = dayMs(2024, 1, 15);
const MAR03 = dayMs(2024, 3, 3);

describe('Profile API', () => {
  const h = sharedServer({ projects: [SEED, AMP] });

  // A user with built-ins and custom properties, sent to both projects.
  async function seedUser(apiKey) {
    const user = uid('pa-user');
    const device = uid('pa-device');
    await h.server.trackOk(
      [
        {
          user_id: user,
          device_id: device,
          event_type: 'Signed Up',
          time: JAN15,
          platform: 'iOS',
          os_name: 'ios',
          os_version: '17.2',
          device_model: 'iPhone15,2',
          country: 'United States',
          region: 'California',
          city: 'San Francisco',
          language: 'en-US',
          app_version: '1.0.0',
          library: 'e2e/1.0',
          user_properties: { plan: 'pro', seats: 3, beta: true, tags: ['a', 'b'], nested: { x: 1 } },
        },
        {
          user_id: user,
          device_id: device,
          event_type: 'Opened',
          time: MAR03,
          app_version: '2.0.0',
          user_properties: { seats: 5 },
        },
      ],
      { apiKey },
    );
    return { user, device };
  }

  it('seed dialect: exact body by user_id and by device_id', async () => {
    const { user, device } = await seedUser(SEED.api_key);
    const res = await h.server.profile({ user_id: user });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/json/);
    const id = res.json.userData.amplitude_id;
    assert.ok(Number.isInteger(id) && id > 0, `amplitude_id ${id}`);
    const expected = {
      userData: {
        user_id: user,
        amplitude_id: id,
        user_properties: { plan: 'pro', seats: 5, beta: true, tags: ['a', 'b'], nested: { x: 1 } },
        computed_properties: {},
        cohort_ids: [],
      },
    };
    assert.deepEqual(res.json, expected);
    const byDevice = await h.server.profile({ device_id: device });
    assert.equal(byDevice.status, 200);
    assert.deepEqual(byDevice.json, expected);
  });

  it('seed dialect: get_recs=true adds "recommendations": []; the other flags change nothing', async () => {
    const { user } = await seedUser(SEED.api_key);
    const base = (await h.server.profile({ user_id: user })).json;
    const withRecs = await h.server.profile({ user_id: user, get_recs: 'true', rec_id: 'r1' });
    assert.equal(withRecs.status, 200);
    assert.deepEqual(withRecs.json, { userData: { ...base.userData, recommendations: [] } });
    const flags = await h.server.profile({ user_id: user, get_amp_props: 'true', get_cohort_ids: 'true' });
    assert.equal(flags.status, 200);
    assert.deepEqual(flags.json, base);
  });

  it('seed dialect: an anonymous device reads without user_id (the seed types it as a string)', async () => {
    const device = uid('anon');
    await h.server.trackOk([{ device_id: device, event_type: 'x', user_properties: { anon: 1 } }]);
    const res = await h.server.profile({ device_id: device });
    assert.equal(res.status, 200);
    const id = res.json.userData.amplitude_id;
    assert.deepEqual(res.json, {
      userData: { amplitude_id: id, user_properties: { anon: 1 }, computed_properties: {}, cohort_ids: [] },
    });
  });

  it('amplitude dialect: sections not asked for are null', async () => {
    const { user, device } = await seedUser(AMP.api_key);
    const res = await h.server.profile({ user_id: user }, { secret: AMP.secret_key });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {
      userData: { recommendations: null, user_id: user, device_id: device, amp_props: null, cohort_ids: null },
    });
    // Key order is part of the documented shape.
    assert.deepEqual(Object.keys(res.json.userData), ['recommendations', 'user_id', 'device_id', 'amp_props', 'cohort_ids']);
  });

  it('amplitude dialect: get_amp_props returns built-ins and custom properties', async () => {
    const { user, device } = await seedUser(AMP.api_key);
    const res = await h.server.profile({ user_id: user, get_amp_props: 'true' }, { secret: AMP.secret_key });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {
      userData: {
        recommendations: null,
        user_id: user,
        device_id: device,
        amp_props: {
          platform: 'iOS',
          os_name: 'ios',
          os_version: '17.2',
          device_model: 'iPhone15,2',
          country: 'United States',
          region: 'California',
          city: 'San Francisco',
          language: 'English',
          app_version: '2.0.0',
          start_version: '1.0.0',
          library: 'e2e/1.0',
          first_used: '2024-01-15',
          last_used: '2024-03-03',
          plan: 'pro',
          seats: 5,
          beta: true,
          tags: ['a', 'b'],
          nested: { x: 1 },
        },
        cohort_ids: null,
      },
    });
  });

  it('amplitude dialect: get_cohort_ids and get_recs give empty lists', async () => {
    const { user, device } = await seedUser(AMP.api_key);
    const res = await h.server.profile(
      { user_id: user, get_cohort_ids: 'true', get_recs: 'true', rec_id: 'r1' },
      { secret: AMP.secret_key },
    );
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {
      userData: { recommendations: [], user_id: user, device_id: device, amp_props: null, cohort_ids: [] },
    });
  });

  it('amplitude dialect: lookup by device_id, and an anonymous device has user_id null', async () => {
    const { user, device } = await seedUser(AMP.api_key);
    const res = await h.server.profile({ device_id: device }, { secret: AMP.secret_key });
    assert.equal(res.status, 200);
    assert.equal(res.json.userData.user_id, user);
    assert.equal(res.json.userData.device_id, device);

    const anon = uid('anon');
    await h.server.trackOk([{ device_id: anon, event_type: 'x', time: JAN15, user_properties: { a: 1 } }], { apiKey: AMP.api_key });
    const a = await h.server.profile({ device_id: anon, get_amp_props: 'true' }, { secret: AMP.secret_key });
    assert.equal(a.status, 200);
    assert.deepEqual(a.json, {
      userData: {
        recommendations: null,
        user_id: null,
        device_id: anon,
        amp_props: { first_used: '2024-01-15', last_used: '2024-01-15', a: 1 },
        cohort_ids: null,
      },
    });
  });

  it('first_used/last_used follow event times, also when events arrive out of order', async () => {
    const user = uid('times');
    const send = (time) => h.server.trackOk([{ user_id: user, event_type: 'x', time }], { apiKey: AMP.api_key });
    await send(MAR03);
    await send(JAN15);
    await send(dayMs(2024, 2, 1));
    const p = await h.server.userData({ user_id: user, get_amp_props: 'true' }, { secret: AMP.secret_key });
    assert.equal(p.amp_props.first_used, '2024-01-15');
    assert.equal(p.amp_props.last_used, '2024-03-03');
  });

  describe('errors (both dialects)', () => {
    for (const project of [SEED, AMP]) {
      it(`${project.profile_dialect}: missing or malformed Authorization is 401 "Missing Api-Key in Authorization header"`, async () => {
        const { user } = await seedUser(project.api_key);
        for (const headers of [{}, { Authorization: '' }, { Authorization: `Bearer ${project.secret_key}` }, { Authorization: 'Api-Key' }, { Authorization: project.secret_key }]) {
          const qs = new URLSearchParams({ user_id: user }).toString();
          const res = await h.server.request('GET', `/v1/userprofile?${qs}`, { headers });
          assert.equal(res.status, 401, JSON.stringify(headers));
          assert.equal(res.text, 'Missing Api-Key in Authorization header', JSON.stringify(headers));
        }
      });

      it(`${project.profile_dialect}: a wrong key is 401 "Invalid Api-Key" (the api_key is not the secret key)`, async () => {
        const { user } = await seedUser(project.api_key);
        for (const secret of ['wrong-secret', project.api_key]) {
          const res = await h.server.profile({ user_id: user }, { secret });
          assert.equal(res.status, 401);
          assert.equal(res.text, 'Invalid Api-Key');
        }
      });

      it(`${project.profile_dialect}: comp_id must be a comma-separated list of integers`, async () => {
        const { user } = await seedUser(project.api_key);
        for (const comp_id of ['abc', '1,abc', '1.5', '-1', '1,,2', '', '99999999999999999999']) {
          const res = await h.server.profile({ user_id: user, comp_id }, { secret: project.secret_key });
          assert.equal(res.status, 400, comp_id);
          assert.match(res.json.error, /^comp_id must be a comma-separated list of integers/, comp_id);
        }
        for (const comp_id of ['7', '1,2', '007']) {
          const res = await h.server.profile({ user_id: user, comp_id }, { secret: project.secret_key });
          assert.equal(res.status, 200, `${comp_id}: ${res.text}`);
        }
      });

      it(`${project.profile_dialect}: neither user_id nor device_id is 400 {"error": ...}`, async () => {
        for (const params of [{}, { get_amp_props: 'true' }, { user_id: '' }]) {
          const res = await h.server.profile(params, { secret: project.secret_key });
          assert.equal(res.status, 400, JSON.stringify(params));
          assert.deepEqual(Object.keys(res.json), ['error']);
          assert.equal(typeof res.json.error, 'string');
          assert.ok(res.json.error.length > 0);
        }
      });

      it(`${project.profile_dialect}: an unknown user or device is 404 "User id and device id not seen before"`, async () => {
        for (const params of [{ user_id: uid('ghost') }, { device_id: uid('ghost') }]) {
          const res = await h.server.profile(params, { secret: project.secret_key });
          assert.equal(res.status, 404);
          assert.deepEqual(res.json, { error: 'User id and device id not seen before' });
        }
      });
    }

    it('an unknown path under /v1 is 404 with a JSON error body', async () => {
      for (const p of ['/v1/userprofiles', '/v1/userprofile/x', '/v1/userprofile/', '/v1/']) {
        const res = await h.server.request('GET', p, { headers: { Authorization: `Api-Key ${SEED.secret_key}` } });
        assert.equal(res.status, 404, p);
        assert.deepEqual(res.json, { code: 404, error: 'Not found' }, p);
      }
    });
  });

  describe('project isolation', () => {
    it("one project's secret key cannot read another project's users", async () => {
      const { user, device } = await seedUser(AMP.api_key);
      assert.equal((await h.server.profile({ user_id: user }, { secret: AMP.secret_key })).status, 200);
      for (const params of [{ user_id: user }, { device_id: device }]) {
        const res = await h.server.profile(params, { secret: SEED.secret_key });
        assert.equal(res.status, 404);
        assert.deepEqual(res.json, { error: 'User id and device id not seen before' });
      }
    });

    it('the same user_id in two projects is two users with their own properties', async () => {
      const user = uid('both');
      const device = uid('both-device');
      await h.server.trackOk([{ user_id: user, device_id: device, event_type: 'x', user_properties: { project: 'seed', only_seed: 1 } }], {
        apiKey: SEED.api_key,
      });
      await h.server.trackOk([{ user_id: user, device_id: device, event_type: 'x', user_properties: { project: 'amp' } }], {
        apiKey: AMP.api_key,
      });
      const s = await h.server.userData({ user_id: user }, { secret: SEED.secret_key });
      const a = await h.server.userData({ user_id: user, get_amp_props: 'true' }, { secret: AMP.secret_key });
      assert.deepEqual(s.user_properties, { project: 'seed', only_seed: 1 });
      assert.equal(a.amp_props.project, 'amp');
      assert.equal('only_seed' in a.amp_props, false);
    });
  });

  describe('CORS', () => {
    it('a preflight is 204 with Access-Control-Allow-Origin and -Headers', async () => {
      for (const p of ['/2/httpapi', '/batch', '/identify', '/v1/userprofile']) {
        const res = await h.server.request('OPTIONS', p, {
          headers: {
            Origin: 'https://app.example.com',
            'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'content-type',
          },
        });
        assert.equal(res.status, 204, p);
        assert.ok(['*', 'https://app.example.com'].includes(res.headers['access-control-allow-origin']), p);
        assert.match(res.headers['access-control-allow-headers'] ?? '', /content-type/i, p);
        assert.match(res.headers['access-control-allow-methods'] ?? 'POST', /POST/, p);
        assert.equal(res.text, '');
      }
    });

    it('answers to requests with an Origin carry Access-Control-Allow-Origin', async () => {
      const origin = { Origin: 'https://app.example.com' };
      const user = uid('cors');
      const ingest = await h.server.track([{ user_id: user, event_type: 'x' }], { headers: origin });
      assert.equal(ingest.status, 200);
      assert.ok(['*', 'https://app.example.com'].includes(ingest.headers['access-control-allow-origin']));
      const bad = await h.server.track([{ user_id: 'null', event_type: 'x' }], { headers: origin });
      assert.equal(bad.status, 400);
      assert.ok(['*', 'https://app.example.com'].includes(bad.headers['access-control-allow-origin']));
      const prof = await h.server.profile({ user_id: user }, { headers: origin });
      assert.equal(prof.status, 200);
      assert.ok(['*', 'https://app.example.com'].includes(prof.headers['access-control-allow-origin']));
    });
  });
});
