// Group properties (docs/API.md, "Groups"): the official @amplitude/analytics-node SDK's
// groupIdentify and setGroup, raw $groupidentify events and Amplitude's POST /groupidentify,
// read back through GET /admin/v1/projects/{p}/groups/{type}/{name}.
import assert from 'node:assert/strict';
import amplitude from '@amplitude/analytics-node';
import { cohort, putReady } from './compute-helpers.js';
import { AMP, describe, formBody, it, PAIR_MODE, SEED, sharedServer, uid } from './harness.js';

const { createInstance, Identify } = amplitude;

describe('group properties', () => {
  const h = sharedServer({ projects: [SEED, AMP] });

  async function client() {
    const c = createInstance();
    await c.init(SEED.api_key, {
      serverUrl: `${h.server.base}/2/httpapi`,
      flushIntervalMillis: 50,
      logLevel: 0,
    }).promise;
    return c;
  }

  async function group(type, name) {
    return h.server.admin('GET', `/projects/${SEED.id}/groups/${encodeURIComponent(type)}/${encodeURIComponent(name)}`);
  }

  function groupIdentify(identification) {
    return h.server.request('POST', '/groupidentify', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody({ api_key: SEED.api_key, identification: JSON.stringify(identification) }),
    });
  }

  it("the SDK's groupIdentify applies every operation to the group, not to the sender", async () => {
    const c = await client();
    const org = uid('acme');
    const user = uid('group-user');
    const opts = { user_id: user };
    const first = c.groupIdentify('org', org, new Identify()
      .set('plan', 'pro')
      .set('app', ['a'])
      .set('pre', ['a'])
      .set('preins', ['a', 'b'])
      .set('postins', ['a', 'b'])
      .set('rm', ['a', 'b', 'a'])
      .set('old', 1)
      .add('seats', 5), opts).promise;
    await c.flush().promise;
    assert.equal((await first).code, 200);
    // The SDK lets a property appear in one operation of an Identify only: one property each.
    const second = c.groupIdentify('org', org, new Identify()
      .unset('old')
      .setOnce('plan', 'free')
      .setOnce('since', 2024)
      .add('seats', 2)
      .append('app', 'c')
      .prepend('pre', 'z')
      .preInsert('preins', ['b', 'y'])
      .postInsert('postins', ['a', 'd'])
      .remove('rm', 'a'), opts).promise;
    await c.flush().promise;
    assert.equal((await second).code, 200);

    const res = await group('org', org);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, {
      group_type: 'org',
      group_name: org,
      group_properties: {
        plan: 'pro', app: ['a', 'c'], pre: ['z', 'a'], preins: ['y', 'a', 'b'], postins: ['a', 'b', 'd'],
        rm: ['b'], seats: 7, since: 2024,
      },
    });
    // The sender's own profile holds none of it.
    const profile = await h.server.userData({ user_id: user, get_amp_props: 'true' });
    assert.deepEqual(profile.user_properties ?? {}, {});

    const cleared = c.groupIdentify('org', org, new Identify().clearAll(), opts).promise;
    await c.flush().promise;
    assert.equal((await cleared).code, 200);
    assert.equal((await group('org', org)).status, 404);
  });

  it('setGroup keeps the type as a user property and groups of ordinary events change no group', async () => {
    const c = await client();
    const user = uid('member');
    const org = uid('org');
    const pending = [
      c.setGroup('org', org, { user_id: user }).promise,
      c.track({ event_type: 'Clicked', groups: { org }, group_properties: { org: { [org]: { size: 3 } } } },
        undefined, { user_id: user }).promise,
    ];
    await c.flush().promise;
    for (const r of await Promise.all(pending)) assert.equal(r.code, 200, r.message);
    const profile = await h.server.userData({ user_id: user, get_amp_props: 'true' });
    assert.equal(profile.user_properties.org, org);
    assert.equal((await group('org', org)).status, 404);
  });

  it('a $groupidentify names several groups and names at once', async () => {
    const [a, b, t] = [uid('ga'), uid('gb'), uid('gt')];
    await h.server.trackOk([{
      user_id: uid('sender'), event_type: '$groupidentify',
      groups: { org: [a, b], team: t }, group_properties: { $add: { n: 1 } },
    }]);
    for (const [type, name] of [['org', a], ['org', b], ['team', t]]) {
      assert.deepEqual((await group(type, name)).json.group_properties, { n: 1 }, `${type}/${name}`);
    }
  });

  it('POST /groupidentify applies each identification; a bad one changes nothing', async () => {
    const [a, b] = [uid('api-a'), uid('api-b')];
    const ok = await groupIdentify([
      { group_type: 'org', group_value: a, group_properties: { plan: 'pro' } },
      { group_type: 'org', group_value: b, group_properties: { $add: { n: 2 } } },
    ]);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.text, 'success');
    assert.deepEqual((await group('org', a)).json.group_properties, { plan: 'pro' });
    assert.deepEqual((await group('org', b)).json.group_properties, { n: 2 });

    const bad = await groupIdentify([
      { group_type: 'org', group_value: a, group_properties: { plan: 'free' } },
      { group_type: 'org', group_value: b, group_properties: { $add: { n: 'many' } } },
    ]);
    assert.equal(bad.status, 400, bad.text);
    assert.deepEqual(bad.json.events_with_invalid_fields, { group_properties: [1] });
    assert.deepEqual((await group('org', a)).json.group_properties, { plan: 'pro' });

    // Past 1,024 identifications: 413, by POST or GET, and nothing applied.
    const many = JSON.stringify([{ group_type: 'org', group_value: a, group_properties: { plan: 'many' } },
      ...Array.from({ length: 1024 }, () => ({}))]);
    const posted = await groupIdentify(JSON.parse(many));
    assert.equal(posted.status, 413, posted.text);
    const got = await h.server.request('GET', `/groupidentify?${new URLSearchParams({ api_key: SEED.api_key, identification: many })}`);
    assert.equal(got.status, 413, got.text);
    assert.deepEqual(got.json, { code: 413, error: 'Payload too large', details: ['identification must hold 1 to 1024 objects'] });
    assert.deepEqual((await group('org', a)).json.group_properties, { plan: 'pro' });

    const missing = await h.server.request('POST', '/groupidentify', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody({ api_key: SEED.api_key }),
    });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.missing_field, 'identification');
  });

  it('two nodes changing one group at once lose no update', { skip: !PAIR_MODE && 'one node (run with PROFILED_E2E_PAIR=1)' }, async () => {
    const org = uid('shared');
    const body = formBody({
      api_key: SEED.api_key,
      identification: JSON.stringify({ group_type: 'org', group_value: org, group_properties: { $add: { n: 1 } } }),
    });
    const sends = [];
    for (let i = 0; i < 40; ++i) {
      const node = i % 2 ? h.server.b : h.server.a;
      sends.push(node.request('POST', '/groupidentify', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' }, body,
      }));
    }
    for (const res of await Promise.all(sends)) assert.equal(res.status, 200, res.text);
    for (const node of [h.server.a, h.server.b]) {
      const res = await node.admin('GET', `/projects/${SEED.id}/groups/org/${encodeURIComponent(org)}`);
      assert.deepEqual(res.json.group_properties, { n: 40 });
    }
  });

  it('two nodes changing the same groups in opposite orders at once apply every change', { skip: !PAIR_MODE && 'one node (run with PROFILED_E2E_PAIR=1)' }, async () => {
    // Node A's requests touch the groups in one order, node B's in the other: a writer that
    // locked each group as it reached it would hold some and wait for the others'
    // (docs/STORAGE.md, GroupRecord).
    const names = Array.from({ length: 10 }, (_, i) => uid(`cross-${i}`));
    const reversed = [...names].reverse();
    const identify = (node, order) => node.request('POST', '/groupidentify', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody({
        api_key: SEED.api_key,
        identification: JSON.stringify(order.map((name) => ({ group_type: 'org', group_value: name, group_properties: { $add: { n: 1 } } }))),
      }),
    });
    const event = (node, order) => node.track([{
      user_id: uid('crosser'), event_type: '$groupidentify', groups: { org: order }, group_properties: { $add: { m: 1 } },
    }]);
    const retries = async () => (await h.server.metrics()).get('profiled_commit_retries_total');
    const retriesBefore = await retries();
    const rounds = 25;
    const sends = [];
    for (let i = 0; i < rounds; ++i) {
      sends.push(identify(h.server.a, names), identify(h.server.b, reversed));
      sends.push(event(h.server.a, names), event(h.server.b, reversed));
    }
    for (const res of await Promise.all(sends)) assert.equal(res.status, 200, res.text);
    for (const node of [h.server.a, h.server.b]) {
      for (const name of names) {
        const res = await node.admin('GET', `/projects/${SEED.id}/groups/org/${encodeURIComponent(name)}`);
        assert.deepEqual(res.json.group_properties, { n: 2 * rounds, m: 2 * rounds }, name);
      }
    }
    // Neither node gave up on the other's locks: they queued (a writer that held one group
    // and waited for another would have waited out lock_wait_ms and applied its batch again).
    assert.equal(await retries(), retriesBefore);
  });

  it("setGroup and /identify groups are the user's groups, served with their properties by get_group_props", async () => {
    const c = createInstance();
    await c.init(AMP.api_key, { serverUrl: `${h.server.base}/2/httpapi`, flushIntervalMillis: 50, logLevel: 0 }).promise;
    const user = uid('amp-member');
    const [org, t1, t2] = [uid('org'), uid('team'), uid('team')];
    const pending = [
      c.setGroup('org', org, { user_id: user }).promise,
      c.setGroup('team', [t1, t2], { user_id: user }).promise,
      c.groupIdentify('org', org, new Identify().set('plan', 'pro'), { user_id: user }).promise,
      // groups of an ordinary event are the event's only
      c.track({ event_type: 'Clicked', groups: { other: 'x-group' } }, undefined, { user_id: user }).promise,
    ];
    await c.flush().promise;
    for (const r of await Promise.all(pending)) assert.equal(r.code, 200, r.message);
    const read = async (params) => (await h.server.userData({ user_id: user, ...params }, { secret: AMP.secret_key }));
    let data = await read({ get_group_props: 'true', get_amp_props: 'true' });
    assert.deepEqual(data.groups, { org: [org], team: [t1, t2] });
    assert.deepEqual(data.group_properties, { org: { [org]: { plan: 'pro' } }, team: { [t1]: {}, [t2]: {} } });
    assert.equal(data.amp_props.org, org);  // setGroup's $set
    assert.deepEqual(data.amp_props.team, [t1, t2]);
    // Without the parameter the answer is Amplitude's own shape.
    data = await read({ get_amp_props: 'true' });
    assert.equal('groups' in data, false);
    assert.equal('group_properties' in data, false);

    // POST /identify: a type set to [] leaves the user's groups.
    const res = await h.server.request('POST', '/identify', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody({ api_key: AMP.api_key, identification: JSON.stringify({ user_id: user, groups: { team: [] } }) }),
    });
    assert.equal(res.status, 200, res.text);
    data = await read({ get_group_props: 'true' });
    assert.deepEqual(data.groups, { org: [org] });
    assert.deepEqual(data.group_properties, { org: { [org]: { plan: 'pro' } } });
  });

  it('a $groupidentify that would outgrow a group refuses its batch naming group_properties; the group is as it was', async () => {
    const org = uid('big-org');
    await h.server.trackOk([{ user_id: uid('s'), event_type: '$groupidentify', groups: { org }, group_properties: { keep: 1 } }]);
    const chunk = Array.from({ length: 1000 }, (_, i) => `${i}`.padEnd(100, 'z'));
    const set = {};
    for (let i = 0; i < 12; i++) set[`big${i}`] = chunk;
    const res = await h.server.track([
      { user_id: uid('s'), event_type: '$groupidentify', groups: { org }, group_properties: { $add: { n: 1 } } },
      { user_id: uid('s'), event_type: '$groupidentify', groups: { org }, group_properties: { $set: set } },
    ], { path: '/batch' });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.json.events_with_invalid_fields, { group_properties: [1] });
    assert.match(res.json.details[0], /properties of group org\/.* over the limit of 1048576/);
    assert.deepEqual((await group('org', org)).json.group_properties, { keep: 1 });
    // The writer's cached group is as stored too: the next change starts from it, not from
    // the refused batch's $add.
    await h.server.trackOk([{ user_id: uid('s'), event_type: '$groupidentify', groups: { org }, group_properties: { $add: { n: 2 } } }]);
    assert.deepEqual((await group('org', org)).json.group_properties, { keep: 1, n: 2 });
  });

  it('a user is in groups of at most 5 types: one more is refused alone, naming groups, and the user stays writable', async () => {
    const user = uid('capped');
    const identify = (fields) => ({ user_id: user, event_type: '$identify', ...fields });
    const groupsOf = async () => (await h.server.userData({ user_id: user, get_group_props: 'true', get_amp_props: 'true' }, { secret: AMP.secret_key }));
    await h.server.trackOk([
      identify({ groups: { t1: 'a', t2: 'a', t3: 'a' } }),
      identify({ groups: { t4: 'a', t5: ['a', 'b'] } }),
    ], { apiKey: AMP.api_key });
    const five = { t1: ['a'], t2: ['a'], t3: ['a'], t4: ['a'], t5: ['a', 'b'] };
    assert.deepEqual((await groupsOf()).groups, five);

    // A sixth type: the batch is refused naming the event's groups; nothing of it applies.
    const refused = await h.server.track([
      identify({ user_properties: { $set: { x: 1 } } }),
      identify({ groups: { t6: 'a' } }),
    ], { apiKey: AMP.api_key });
    assert.equal(refused.status, 400, refused.text);
    assert.deepEqual(refused.json.events_with_invalid_fields, { groups: [1] });
    assert.match(JSON.stringify(refused.json), /over the limit of 5/);
    let data = await groupsOf();
    assert.deepEqual(data.groups, five);
    assert.equal(data.amp_props.x, undefined);

    // The same through POST /identify and the SDK's setGroup.
    const viaIdentify = await h.server.request('POST', '/identify', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody({ api_key: AMP.api_key, identification: JSON.stringify({ user_id: user, groups: { t7: 'a' } }) }),
    });
    assert.equal(viaIdentify.status, 400, viaIdentify.text);
    assert.deepEqual(viaIdentify.json.events_with_invalid_fields, { groups: [0] });
    const c = createInstance();
    await c.init(AMP.api_key, { serverUrl: `${h.server.base}/2/httpapi`, flushIntervalMillis: 50, logLevel: 0 }).promise;
    const viaSdk = c.setGroup('t8', 'a', { user_id: user }).promise;
    await c.flush().promise;
    assert.equal((await viaSdk).code, 400);
    assert.deepEqual((await groupsOf()).groups, five);

    // Still writable: its properties, a type it has, and a sixth type once one is removed.
    await h.server.trackOk([
      identify({ user_properties: { $set: { x: 1 } } }),
      identify({ groups: { t1: ['b', 'c'] } }),
      identify({ groups: { t2: [], t6: 'a' } }),
    ], { apiKey: AMP.api_key });
    data = await groupsOf();
    assert.deepEqual(data.groups, { t1: ['b', 'c'], t3: ['a'], t4: ['a'], t5: ['a', 'b'], t6: ['a'] });
    assert.equal(data.amp_props.x, 1);
  });

  it("a cohort conditions on a property of the user's groups, as the groups are now", async () => {
    const [pro, free] = [uid('pro-org'), uid('free-org')];
    const [inPro, inFree, inNone] = [uid('c-pro'), uid('c-free'), uid('c-none')];
    const cohortId = uid('pro-members').replace(/[^a-z0-9-]/g, '');
    await putReady(h.server, AMP.id, 'cohorts', cohortId,
      cohort('members of pro orgs', { type: 'group_property', group_type: 'org', prop: 'plan', op: 'is', values: ['pro'] }));
    const res = await h.server.request('POST', '/groupidentify', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody({ api_key: AMP.api_key, identification: JSON.stringify([
        { group_type: 'org', group_value: pro, group_properties: { plan: 'pro' } },
        { group_type: 'org', group_value: free, group_properties: { plan: 'free' } },
      ]) }),
    });
    assert.equal(res.status, 200, res.text);
    await h.server.trackOk([
      { user_id: inPro, event_type: '$identify', user_properties: { $set: { org: pro } }, groups: { org: pro } },
      { user_id: inFree, event_type: '$identify', user_properties: { $set: { org: free } }, groups: { org: [free] } },
      { user_id: inNone, event_type: 'Opened' },
    ], { apiKey: AMP.api_key });
    const cohortsOf = async (user) => (await h.server.userData({ user_id: user, get_cohort_ids: 'true' }, { secret: AMP.secret_key })).cohort_ids;
    assert.deepEqual(await cohortsOf(inPro), [cohortId]);
    assert.deepEqual(await cohortsOf(inFree), []);
    assert.deepEqual(await cohortsOf(inNone), []);
    // The group's properties change: the membership follows at the next read.
    const change = await h.server.request('POST', '/groupidentify', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody({ api_key: AMP.api_key, identification: JSON.stringify({ group_type: 'org', group_value: free, group_properties: { plan: 'pro' } }) }),
    });
    assert.equal(change.status, 200);
    assert.deepEqual(await cohortsOf(inFree), [cohortId]);
    // The member download evaluates the same condition.
    const members = await h.server.admin('GET', `/projects/${AMP.id}/cohorts/${cohortId}/members?format=jsonl`);
    assert.equal(members.status, 200, members.text);
    // (users of other tests of this file may be members too: only this test's users count)
    const mine = new Set([inPro, inFree, inNone]);
    const users = members.text.trim().split('\n').map((l) => JSON.parse(l).user_id).filter((u) => mine.has(u)).sort();
    assert.deepEqual(users, [inPro, inFree].sort());
  });

  it('the admin API answers 404 for an unknown group and needs the admin token', async () => {
    const res = await group('org', uid('never'));
    assert.equal(res.status, 404);
    const denied = await h.server.admin('GET', `/projects/${SEED.id}/groups/org/x`, undefined, { token: 'wrong' });
    assert.equal(denied.status, 401);
  });
});
