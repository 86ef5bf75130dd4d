// Computed properties (issue 6, docs/COMPUTE.md): definitions put over the admin API, events
// sent with the official @amplitude/analytics-node SDK (with past `time` values), values read
// back in both Profile API dialects. Each test owns a project, so whole bodies compare.
import assert from 'node:assert/strict';
import { Identify } from '@amplitude/analytics-node';
import { describe, it, sharedServer, uid } from './harness.js';
import { daysAgo, makeProjects, putAllReady, putReady, sdkClient, sdkTrack } from './compute-helpers.js';

const SEEDS = makeProjects('cseed', 4, 'seed');
const AMPS = makeProjects('camp', 2, 'amplitude');

// The computations every test of the first block defines, with the values the main user
// (events below) must have. `amp` is the Amplitude dialect's string.
const COMPUTATIONS = {
  1: { def: { type: 'count', event_type: 'Purchase', where: [{ prop: 'category', op: 'is', values: ['books'] }], window_days: 30 } },
  2: { def: { type: 'count', event_type: 'Purchase' } },
  3: { def: { type: 'sum', event_type: 'Purchase', property: '$revenue' } },
  4: { def: { type: 'sum', event_type: 'Purchase', property: '$revenue', window_days: 7 } },
  5: { def: { type: 'min', event_type: 'Purchase', property: 'price' } },
  6: { def: { type: 'max', event_type: 'Purchase', property: 'price', window_days: 30 } },
  7: { def: { type: 'avg', event_type: 'Purchase', property: 'price', window_days: 30 } },
  8: { def: { type: 'first', event_type: 'Purchase', property: 'category' } },
  9: { def: { type: 'last', event_type: 'Purchase', property: 'category' } },
  10: { def: { type: 'distinct_count', event_type: 'Page View', property: 'page', window_days: 30 } },
  11: { def: { type: 'distinct_count', event_type: 'Page View', property: 'page' } },
  12: { def: { type: 'count', event_type: '_active', window_days: 30 } },
  13: { def: { type: 'count', event_type: '_active' } },
  14: { def: { type: 'count', event_type: 'Purchase', where: [{ prop: 'price', op: 'greater', values: [10] }] } },
  15: { def: { type: 'max', event_type: 'Purchase', property: 'price', where: [{ prop: 'category', op: 'is_not', values: ['books'] }] } },
  16: { def: { type: 'last', event_type: 'Purchase', property: '$country' } },
};

async function defineAll(server, project) {
  await putAllReady(server, project.id, Object.entries(COMPUTATIONS).map(([id, { def }]) => ['computations', id, { id: Number(id), name: `comp ${id}`, ...def }]));
}

// The main user's events, sent in this (not time) order: the 40-day-old purchase comes last.
function mainEvents(user, device) {
  const o = (days, extra = {}) => ({ user_id: user, device_id: device, time: daysAgo(days), ...extra });
  return [
    ['Purchase', { category: 'books', price: 12 }, o(3, { revenue: 10.5, country: 'Germany' })],
    ['Purchase', { category: 'books', price: '4.5' }, o(10, { revenue: 20.25, country: 'Germany' })],
    ['Purchase', { category: 'toys', price: 30 }, o(1, { revenue: 5, country: 'France' })],
    ['Page View', { page: 'home' }, o(2)],
    ['Page View', { page: 'cart' }, o(5)],
    ['Page View', { page: 'home' }, o(50)],
    ['Purchase', { category: 'books', price: 100 }, o(40, { revenue: 100, country: 'Spain' })],
  ];
}

// computed_properties of the main user, as the seed dialect answers them.
const MAIN_VALUES = {
  1: 2, // books in 30 days: 3 and 10 days ago (40 is out)
  2: 4,
  3: 135.75, // 10.5 + 20.25 + 5 + 100
  4: 15.5, // 7 days: 10.5 + 5
  5: 4.5, // the string "4.5" counts as a number
  6: 30,
  7: 15.5, // (12 + 4.5 + 30) / 3
  8: 'books', // the earliest event (40 days ago), sent last
  9: 'toys', // the latest (1 day ago)
  10: 2,
  11: 2,
  12: 5, // 3 purchases + 2 page views in 30 days
  13: 7,
  14: 3, // 12, 30, 100 (the string "4.5" is not greater than 10)
  15: 30,
  16: 'France',
};

// The Amplitude dialect's string of each value.
function ampString(v) {
  return typeof v === 'string' ? v : String(v);
}

function seedExpect(values) {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [String(k), v]));
}

describe('computations: every type, both dialects', () => {
  const h = sharedServer({ projects: [...SEEDS, ...AMPS] });

  it('values of every type, with where filters and windows, from SDK events with past times (seed dialect)', async () => {
    const p = SEEDS[0];
    const s = h.server;
    await defineAll(s, p);
    const c = await sdkClient(s, p.api_key);
    const user = uid('comp-user');
    await sdkTrack(c, mainEvents(user, uid('comp-dev')));
    const data = await s.userData({ user_id: user }, { secret: p.secret_key });
    assert.deepEqual(data.computed_properties, seedExpect(MAIN_VALUES));
    assert.deepEqual(data.cohort_ids, []);

    // A user with no matching event: 0 for count, sum and distinct_count; no entry for
    // min, max, avg, first and last. `_active` counts the one event.
    const idle = uid('comp-idle');
    await sdkTrack(c, [['Signed Up', {}, { user_id: idle, time: daysAgo(2) }]]);
    const idleData = await s.userData({ user_id: idle }, { secret: p.secret_key });
    assert.deepEqual(idleData.computed_properties, seedExpect({ 1: 0, 2: 0, 3: 0, 4: 0, 10: 0, 11: 0, 12: 1, 13: 1, 14: 0 }));
    // An identify is not a tracked event: `_active` does not count it.
    const identify = c.identify(new Identify().set('plan', 'pro'), { user_id: idle });
    await c.flush().promise;
    assert.equal((await identify.promise).code, 200);
    const identified = await s.userData({ user_id: idle }, { secret: p.secret_key });
    assert.deepEqual(identified.user_properties, { plan: 'pro' });
    assert.deepEqual(identified.computed_properties, idleData.computed_properties);

    // A user whose only purchase is older than every window: all-time values only.
    const old = uid('comp-old');
    await sdkTrack(c, [['Purchase', { category: 'books', price: 5 }, { user_id: old, time: daysAgo(45), revenue: 2.5 }]]);
    const oldData = await s.userData({ user_id: old }, { secret: p.secret_key });
    assert.deepEqual(
      oldData.computed_properties,
      seedExpect({ 1: 0, 2: 1, 3: 2.5, 4: 0, 5: 5, 8: 'books', 9: 'books', 10: 0, 11: 0, 12: 0, 13: 1, 14: 0 }),
    );

    // New events move the values on the very next read.
    await sdkTrack(c, [
      ['Purchase', { category: 'books', price: 1 }, { user_id: user, time: daysAgo(0), revenue: 0.25, country: 'Italy' }],
    ]);
    const after = await s.userData({ user_id: user }, { secret: p.secret_key });
    assert.deepEqual(
      after.computed_properties,
      seedExpect({ ...MAIN_VALUES, 1: 3, 2: 5, 3: 136, 4: 15.75, 5: 1, 7: 11.875, 9: 'books', 12: 6, 13: 8, 16: 'Italy' }),
    );
  });

  it('the Amplitude dialect returns the same values as strings in amp_props', async () => {
    const p = AMPS[0];
    const s = h.server;
    await defineAll(s, p);
    const c = await sdkClient(s, p.api_key);
    const user = uid('comp-amp');
    const device = uid('comp-amp-dev');
    await sdkTrack(c, mainEvents(user, device));
    const all = await s.userData({ user_id: user, get_computations: 'true' }, { secret: p.secret_key });
    const expected = Object.fromEntries(Object.entries(MAIN_VALUES).map(([k, v]) => [`computed-prop-${k}`, ampString(v)]));
    assert.deepEqual(all, { recommendations: null, user_id: user, device_id: device, amp_props: expected, cohort_ids: null });

    const idle = uid('comp-amp-idle');
    await sdkTrack(c, [['Signed Up', {}, { user_id: idle, time: daysAgo(2) }]]);
    const idleData = await s.userData({ user_id: idle, get_computations: 'true' }, { secret: p.secret_key });
    assert.deepEqual(idleData.amp_props, {
      'computed-prop-1': '0',
      'computed-prop-2': '0',
      'computed-prop-3': '0',
      'computed-prop-4': '0',
      'computed-prop-10': '0',
      'computed-prop-11': '0',
      'computed-prop-12': '1',
      'computed-prop-13': '1',
      'computed-prop-14': '0',
    });
  });
});

describe('computations: comp_id narrowing', () => {
  const h = sharedServer({ projects: [SEEDS[1], AMPS[1]] });

  async function setup(p) {
    const s = h.server;
    await putAllReady(s, p.id, [
      [21, { type: 'count', event_type: 'Purchase' }],
      [22, { type: 'sum', event_type: 'Purchase', property: '$revenue' }],
      [23, { type: 'last', event_type: 'Purchase', property: 'category' }],
    ].map(([id, def]) => ['computations', id, { name: `c${id}`, ...def }]));
    const c = await sdkClient(s, p.api_key);
    const user = uid('narrow');
    await sdkTrack(c, [
      ['Purchase', { category: 'books' }, { user_id: user, time: daysAgo(3), revenue: 7.5 }],
      ['Purchase', { category: 'games' }, { user_id: user, time: daysAgo(1), revenue: 2 }],
      ['Identify Me', {}, { user_id: user, time: daysAgo(1), user_properties: { plan: 'pro' } }],
    ]);
    return user;
  }

  it('seed dialect: comp_id with one id, a comma list, and an unknown id', async () => {
    const p = SEEDS[1];
    const user = await setup(p);
    const read = async (q) => (await h.server.userData({ user_id: user, ...q }, { secret: p.secret_key })).computed_properties;
    assert.deepEqual(await read({}), { 21: 2, 22: 9.5, 23: 'games' });
    assert.deepEqual(await read({ comp_id: '22' }), { 22: 9.5 });
    assert.deepEqual(await read({ comp_id: '21,23' }), { 21: 2, 23: 'games' });
    assert.deepEqual(await read({ comp_id: '23,999' }), { 23: 'games' });
    assert.deepEqual(await read({ comp_id: '999' }), {});
    // Leading zeros name the same id.
    assert.deepEqual(await read({ comp_id: '021' }), { 21: 2 });
    // get_computations does not widen the seed dialect's comp_id.
    assert.deepEqual(await read({ comp_id: '21', get_computations: 'true' }), { 21: 2 });
  });

  it('Amplitude dialect: comp_id narrows, get_computations returns every one, get_amp_props adds the user properties', async () => {
    const p = AMPS[1];
    const user = await setup(p);
    const read = async (q) => (await h.server.userData({ user_id: user, ...q }, { secret: p.secret_key })).amp_props;
    assert.equal(await read({}), null);
    assert.deepEqual(await read({ comp_id: '22' }), { 'computed-prop-22': '9.5' });
    assert.deepEqual(await read({ comp_id: '21,23' }), { 'computed-prop-21': '2', 'computed-prop-23': 'games' });
    assert.deepEqual(await read({ comp_id: '999' }), {});
    const all = { 'computed-prop-21': '2', 'computed-prop-22': '9.5', 'computed-prop-23': 'games' };
    assert.deepEqual(await read({ get_computations: 'true' }), all);
    // With get_computations every computation comes back, comp_id or not (reference §1.2).
    assert.deepEqual(await read({ get_computations: 'true', comp_id: '21' }), all);
    // get_computations=false with comp_id still narrows.
    assert.deepEqual(await read({ get_computations: 'false', comp_id: '23' }), { 'computed-prop-23': 'games' });
    const withProps = await read({ get_amp_props: 'true', comp_id: '21' });
    assert.equal(withProps.plan, 'pro');
    assert.equal(withProps['computed-prop-21'], '2');
    assert.equal(withProps['computed-prop-22'], undefined);
    // get_amp_props alone returns user properties without computations (reference §1.2).
    const propsOnly = await read({ get_amp_props: 'true' });
    assert.equal(propsOnly.plan, 'pro');
    assert.deepEqual(Object.keys(propsOnly).filter((k) => k.startsWith('computed-prop-')), []);
  });
});

describe('computations: definitions change and go', () => {
  const h = sharedServer({ projects: [SEEDS[2], SEEDS[3]] });

  it('a changed definition serves its new version once ready; a deleted one stops at once', async () => {
    const p = SEEDS[2];
    const s = h.server;
    const c = await sdkClient(s, p.api_key);
    const user = uid('change');
    await sdkTrack(c, [
      ['Purchase', { category: 'books', price: 3 }, { user_id: user, time: daysAgo(2) }],
      ['Purchase', { category: 'toys', price: 8 }, { user_id: user, time: daysAgo(20) }],
    ]);
    await putReady(s, p.id, 'computations', 31, { name: 'n', type: 'count', event_type: 'Purchase', window_days: 30 });
    const read = async () => (await s.userData({ user_id: user }, { secret: p.secret_key })).computed_properties;
    assert.deepEqual(await read(), { 31: 2 });
    // A narrower window and a where filter: a new spec, backfilled from the log.
    await putReady(s, p.id, 'computations', 31, { name: 'n', type: 'count', event_type: 'Purchase', window_days: 7 });
    assert.deepEqual(await read(), { 31: 1 });
    await putReady(s, p.id, 'computations', 31, { name: 'n', type: 'max', event_type: 'Purchase', property: 'price' });
    assert.deepEqual(await read(), { 31: 8 });
    // Back to a spec that existed before.
    await putReady(s, p.id, 'computations', 31, { name: 'renamed', type: 'count', event_type: 'Purchase', window_days: 30 });
    assert.deepEqual(await read(), { 31: 2 });
    const got = await s.adminOk('GET', `/projects/${p.id}/computations/31`);
    assert.equal(got.name, 'renamed');
    assert.equal(got.status, 'ready');
    assert.deepEqual(await s.adminOk('DELETE', `/projects/${p.id}/computations/31`), { deleted: true });
    assert.deepEqual(await read(), {});
    assert.equal((await s.admin('GET', `/projects/${p.id}/computations/31`)).status, 404);
  });

  it('an anonymous device merged into a user brings its aggregates along', async () => {
    const p = SEEDS[3];
    const s = h.server;
    await putAllReady(s, p.id, [
      ['computations', 41, { name: 'p', type: 'count', event_type: 'Purchase', window_days: 30 }],
      ['computations', 42, { name: 's', type: 'sum', event_type: 'Purchase', property: 'price' }],
      ['computations', 43, { name: 'f', type: 'first', event_type: 'Purchase', property: 'sku' }],
    ]);
    const c = await sdkClient(s, p.api_key);
    const user = uid('merge-user');
    const anon = uid('merge-anon');
    await sdkTrack(c, [['Purchase', { price: 4, sku: 'u1' }, { user_id: user, device_id: uid('merge-own'), time: daysAgo(1) }]]);
    await sdkTrack(c, [
      ['Purchase', { price: 6, sku: 'a1' }, { device_id: anon, time: daysAgo(5) }],
      ['Purchase', { price: 10, sku: 'a2' }, { device_id: anon, time: daysAgo(60) }],
    ]);
    const before = await s.userData({ device_id: anon }, { secret: p.secret_key });
    assert.deepEqual(before.computed_properties, { 41: 1, 42: 16, 43: 'a2' });
    // The device's first event with the user's id merges it into the user (reference §2.5).
    await sdkTrack(c, [['Opened', {}, { user_id: user, device_id: anon, time: daysAgo(0) }]]);
    const merged = await s.userData({ user_id: user }, { secret: p.secret_key });
    assert.deepEqual(merged.computed_properties, { 41: 2, 42: 20, 43: 'a2' });
    const viaDevice = await s.userData({ device_id: anon }, { secret: p.secret_key });
    assert.equal(viaDevice.amplitude_id, merged.amplitude_id);
    assert.deepEqual(viaDevice.computed_properties, merged.computed_properties);
  });
});
