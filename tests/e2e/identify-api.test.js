// The Identify API (reference §2.3): form, multipart and GET forms, arrays, operations,
// the device/location group rule, language names, and that it records no activity.
import assert from 'node:assert/strict';
import { AMP, dayMs, describe, formBody, it, SEED, sharedServer, uid } from './harness.js';

describe('Identify API', () => {
  const h = sharedServer({ projects: [SEED, AMP] });

  function postForm(fields) {
    return h.server.request('POST', '/identify', {
      body: formBody(fields),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
  }

  function postMultipart(fields) {
    const boundary = `----e2e${Math.random().toString(16).slice(2)}`;
    let body = '';
    for (const [k, v] of Object.entries(fields)) {
      body += `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
    }
    body += `--${boundary}--\r\n`;
    return h.server.request('POST', '/identify', {
      body,
      headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
    });
  }

  function getQuery(fields) {
    return h.server.request('GET', `/identify?${formBody(fields)}`);
  }

  // Identify against the amplitude-dialect project and return amp_props.
  async function identifyAmp(identification) {
    const res = await postForm({ api_key: AMP.api_key, identification: JSON.stringify(identification) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'success');
  }
  async function ampProps(user_id) {
    const d = await h.server.userData({ user_id, get_amp_props: 'true' }, { secret: AMP.secret_key });
    return d.amp_props;
  }

  it('POST form-urlencoded sets user properties and answers "success"', async () => {
    const user = uid('idf');
    const res = await postForm({
      api_key: SEED.api_key,
      identification: JSON.stringify({ user_id: user, user_properties: { plan: 'pro', age: 31 } }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'success');
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { plan: 'pro', age: 31 });
  });

  it('POST multipart/form-data works the same', async () => {
    const user = uid('idm');
    const res = await postMultipart({
      api_key: SEED.api_key,
      identification: JSON.stringify({ user_id: user, user_properties: { via: 'multipart', list: [1, 2] } }),
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'success');
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { via: 'multipart', list: [1, 2] });
  });

  it('GET with the same fields in the query works the same', async () => {
    const user = uid('idg');
    const res = await getQuery({
      api_key: SEED.api_key,
      identification: JSON.stringify({ user_id: user, user_properties: { via: 'get', 'with space': 'a&b=c' } }),
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'success');
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { via: 'get', 'with space': 'a&b=c' });
  });

  it('an array identification updates every listed user, in order', async () => {
    const a = uid('ida');
    const b = uid('idb');
    const res = await postForm({
      api_key: SEED.api_key,
      identification: JSON.stringify([
        { user_id: a, user_properties: { n: 1 } },
        { user_id: b, user_properties: { n: 2 } },
        { user_id: a, user_properties: { $add: { n: 10 }, $set: { second: true } } },
      ]),
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'success');
    assert.deepEqual((await h.server.userData({ user_id: a })).user_properties, { n: 11, second: true });
    assert.deepEqual((await h.server.userData({ user_id: b })).user_properties, { n: 2 });
  });

  it('operations work in identifications; device_id-only identifications create anonymous profiles', async () => {
    const device = uid('idd');
    await identifyAmp({ device_id: device, user_properties: { $set: { a: 1 }, $setOnce: { first: 'x' }, $append: { l: 'p' } } });
    await identifyAmp({ device_id: device, user_properties: { $setOnce: { first: 'y' }, $append: { l: 'q' }, $unset: { a: '-' } } });
    const d = await h.server.userData({ device_id: device, get_amp_props: 'true' }, { secret: AMP.secret_key });
    assert.equal(d.user_id, null);
    assert.equal(d.device_id, device);
    assert.deepEqual(d.amp_props, { first: 'x', l: ['p', 'q'] });
  });

  it('setting one device field clears the others unless sent together', async () => {
    const user = uid('dev');
    await identifyAmp({
      user_id: user,
      platform: 'iOS',
      os_name: 'ios',
      os_version: '17.2',
      device_brand: 'Apple',
      device_manufacturer: 'Apple',
      device_model: 'iPhone15,2',
      carrier: 'Verizon',
    });
    assert.deepEqual(await ampProps(user), {
      platform: 'iOS',
      os_name: 'ios',
      os_version: '17.2',
      device_brand: 'Apple',
      device_manufacturer: 'Apple',
      device_model: 'iPhone15,2',
      carrier: 'Verizon',
    });
    await identifyAmp({ user_id: user, platform: 'Android' });
    assert.deepEqual(await ampProps(user), { platform: 'Android' });
    await identifyAmp({ user_id: user, os_name: 'android', os_version: '14' });
    assert.deepEqual(await ampProps(user), { os_name: 'android', os_version: '14' });
  });

  it('setting one location field clears the others unless sent together', async () => {
    const user = uid('loc');
    await identifyAmp({ user_id: user, country: 'United States', region: 'California', city: 'San Francisco', dma: 'San Francisco-Oakland-San Jose, CA' });
    assert.deepEqual(await ampProps(user), {
      country: 'United States',
      region: 'California',
      city: 'San Francisco',
      dma: 'San Francisco-Oakland-San Jose, CA',
    });
    await identifyAmp({ user_id: user, country: 'France', city: 'Paris' });
    assert.deepEqual(await ampProps(user), { country: 'France', city: 'Paris' });
  });

  it('the device group and the location group do not clear each other or other fields', async () => {
    const user = uid('grp');
    await identifyAmp({ user_id: user, platform: 'Web', country: 'Germany', app_version: '3.1.0', user_properties: { keep: 1 } });
    await identifyAmp({ user_id: user, os_name: 'Chrome' });
    const p = await ampProps(user);
    assert.equal(p.country, 'Germany');
    assert.equal(p.os_name, 'Chrome');
    assert.equal(p.app_version, '3.1.0');
    assert.equal(p.keep, 1);
    assert.equal('platform' in p, false);
  });

  it('language tags are stored as language names', async () => {
    const cases = [
      ['en-US', 'English'],
      ['de', 'German'],
      ['fr-FR', 'French'],
    ];
    for (const [tag, name] of cases) {
      const user = uid('lang');
      await identifyAmp({ user_id: user, language: tag });
      assert.equal((await ampProps(user)).language, name, tag);
    }
  });

  it('paying and start_version are stored; a later app_version does not replace start_version', async () => {
    const user = uid('pay');
    await identifyAmp({ user_id: user, paying: true, start_version: '0.9.0', app_version: '1.0.0' });
    let p = await ampProps(user);
    assert.equal(p.paying, true);
    assert.equal(p.start_version, '0.9.0');
    assert.equal(p.app_version, '1.0.0');
    await h.server.trackOk([{ user_id: user, event_type: 'x', app_version: '2.0.0' }], { apiKey: AMP.api_key });
    p = await ampProps(user);
    assert.equal(p.start_version, '0.9.0');
    assert.equal(p.app_version, '2.0.0');
  });

  it('identify records no activity: no first_used/last_used, and existing ones are kept', async () => {
    const fresh = uid('noact');
    await identifyAmp({ user_id: fresh, platform: 'iOS', user_properties: { p: 1 } });
    const p = await ampProps(fresh);
    assert.equal('first_used' in p, false, JSON.stringify(p));
    assert.equal('last_used' in p, false, JSON.stringify(p));

    const active = uid('act');
    await h.server.trackOk([{ user_id: active, event_type: 'x', time: dayMs(2024, 1, 15) }], { apiKey: AMP.api_key });
    await identifyAmp({ user_id: active, user_properties: { later: true } });
    const q = await ampProps(active);
    assert.equal(q.first_used, '2024-01-15');
    assert.equal(q.last_used, '2024-01-15');
    assert.equal(q.later, true);
  });

  it('identify follows the identity rules: a device seen anonymously is adopted by the user', async () => {
    const device = uid('iddev');
    const user = uid('iduser');
    await h.server.trackOk([{ device_id: device, event_type: 'x', user_properties: { anon: 1 } }]);
    const before = await h.server.userData({ device_id: device });
    const res = await postForm({ api_key: SEED.api_key, identification: JSON.stringify({ user_id: user, device_id: device, user_properties: { named: true } }) });
    assert.equal(res.status, 200);
    const u = await h.server.userData({ user_id: user });
    assert.equal(u.amplitude_id, before.amplitude_id);
    assert.deepEqual(u.user_properties, { anon: 1, named: true });
  });

  describe('errors', () => {
    it('a missing api_key is 400 naming the field', async () => {
      const user = uid('e');
      const res = await postForm({ identification: JSON.stringify({ user_id: user, user_properties: { a: 1 } }) });
      assert.equal(res.status, 400);
      assert.equal(res.json.code, 400);
      assert.equal(res.json.missing_field, 'api_key');
      assert.equal((await h.server.profile({ user_id: user })).status, 404);
    });

    it('an unknown api_key is 400 "Invalid API key"', async () => {
      const user = uid('e');
      const res = await postForm({ api_key: 'nope', identification: JSON.stringify({ user_id: user, user_properties: { a: 1 } }) });
      assert.equal(res.status, 400);
      assert.equal(res.json.code, 400);
      assert.ok(res.json.error.startsWith('Invalid API key'), res.text);
      assert.equal((await h.server.profile({ user_id: user })).status, 404);
    });

    it('a missing or malformed identification is 400', async () => {
      for (const fields of [{ api_key: SEED.api_key }, { api_key: SEED.api_key, identification: '{not json' }, { api_key: SEED.api_key, identification: '"text"' }]) {
        const res = await postForm(fields);
        assert.equal(res.status, 400, JSON.stringify(fields));
        assert.equal(res.json.code, 400);
      }
    });

    it('a GET whose URL is too long is 414', async () => {
      const user = uid('long');
      const identification = JSON.stringify({ user_id: user, user_properties: { pad: 'x'.repeat(20000) } });
      const res = await getQuery({ api_key: SEED.api_key, identification });
      assert.equal(res.status, 414);
      assert.equal((await h.server.profile({ user_id: user })).status, 404);
    });

    it('an identification without ids, or with an invalid id, is 400 and applies nothing', async () => {
      const good = uid('good');
      for (const bad of [{ user_properties: { a: 1 } }, { user_id: 'null', user_properties: { a: 1 } }, { user_id: 'abc' }]) {
        const res = await postForm({ api_key: SEED.api_key, identification: JSON.stringify([{ user_id: good, user_properties: { a: 1 } }, bad]) });
        assert.equal(res.status, 400, JSON.stringify(bad));
        assert.equal(res.json.code, 400);
      }
      assert.equal((await h.server.profile({ user_id: good })).status, 404);
    });
  });
});
