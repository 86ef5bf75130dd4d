// Amplitude's identity rules (reference §2.5) through raw /2/httpapi calls: which
// amplitude_id an event lands on, and which profile a user_id or device_id lookup reads.
import assert from 'node:assert/strict';
import { describe, it, sharedServer, uid } from './harness.js';

describe('identity resolution', () => {
  const h = sharedServer();

  const ev = (fields) => ({ event_type: 'Page Viewed', ...fields });
  const byUser = (user_id) => h.server.userData({ user_id });
  const byDevice = (device_id) => h.server.userData({ device_id });

  it('an event with user_id and a new device_id creates one user; both lookups read it', async () => {
    const s = h.server;
    const user = uid('user');
    const device = uid('device');
    await s.trackOk([ev({ user_id: user, device_id: device, user_properties: { plan: 'pro' } })]);
    const u = await byUser(user);
    const d = await byDevice(device);
    assert.ok(Number.isInteger(u.amplitude_id) && u.amplitude_id > 0, `amplitude_id ${u.amplitude_id}`);
    assert.equal(d.amplitude_id, u.amplitude_id);
    assert.equal(u.user_id, user);
    assert.equal(d.user_id, user);
    assert.deepEqual(u.user_properties, { plan: 'pro' });
    assert.deepEqual(d.user_properties, { plan: 'pro' });
  });

  it('user_id takes precedence: a user seen first on one device keeps its id on another', async () => {
    const s = h.server;
    const user = uid('user');
    const d1 = uid('device');
    const d2 = uid('device');
    await s.trackOk([ev({ user_id: user, device_id: d1, user_properties: { first: 1 } })]);
    const before = await byUser(user);
    await s.trackOk([ev({ user_id: user, device_id: d2, user_properties: { second: 2 } })]);
    const after = await byUser(user);
    assert.equal(after.amplitude_id, before.amplitude_id);
    assert.equal((await byDevice(d2)).amplitude_id, before.amplitude_id);
    assert.equal((await byDevice(d1)).amplitude_id, before.amplitude_id);
    assert.deepEqual(after.user_properties, { first: 1, second: 2 });
  });

  it('an anonymous device is adopted by the first user_id it sends', async () => {
    const s = h.server;
    const user = uid('user');
    const device = uid('device');
    await s.trackOk([ev({ device_id: device, user_properties: { anon: true, color: 'red' } })]);
    const anon = await byDevice(device);
    assert.ok(!('user_id' in anon), JSON.stringify(anon)); // seed dialect: left out for an anonymous device
    assert.deepEqual(anon.user_properties, { anon: true, color: 'red' });
    assert.equal((await s.profile({ user_id: user })).status, 404);

    await s.trackOk([ev({ user_id: user, device_id: device, user_properties: { color: 'blue' } })]);
    const u = await byUser(user);
    assert.equal(u.amplitude_id, anon.amplitude_id, 'the device id becomes the user id');
    assert.equal(u.user_id, user);
    assert.deepEqual(u.user_properties, { anon: true, color: 'blue' });
    const d = await byDevice(device);
    assert.equal(d.amplitude_id, anon.amplitude_id);
    assert.equal(d.user_id, user);
  });

  it('device-only events after a login go to the last known user of that device', async () => {
    const s = h.server;
    const user = uid('user');
    const device = uid('device');
    await s.trackOk([ev({ user_id: user, device_id: device, user_properties: { plan: 'free' } })]);
    const u0 = await byUser(user);
    await s.trackOk([ev({ device_id: device, user_properties: { plan: 'paid', later: 1 } })]);
    const u1 = await byUser(user);
    assert.equal(u1.amplitude_id, u0.amplitude_id);
    assert.deepEqual(u1.user_properties, { plan: 'paid', later: 1 });
    const d = await byDevice(device);
    assert.equal(d.amplitude_id, u0.amplitude_id);
    assert.equal(d.user_id, user);
  });

  it('a different user on the same device gets a new amplitude_id and becomes the device\'s last user', async () => {
    const s = h.server;
    const alice = uid('alice');
    const bob = uid('bob');
    const device = uid('device');
    await s.trackOk([ev({ user_id: alice, device_id: device, user_properties: { name: 'Alice' } })]);
    await s.trackOk([ev({ user_id: bob, device_id: device, user_properties: { name: 'Bob' } })]);
    const a = await byUser(alice);
    const b = await byUser(bob);
    assert.notEqual(b.amplitude_id, a.amplitude_id);
    assert.deepEqual(a.user_properties, { name: 'Alice' });
    assert.deepEqual(b.user_properties, { name: 'Bob' });

    // Anonymous events on the device now belong to Bob; Alice is untouched.
    await s.trackOk([ev({ device_id: device, user_properties: { seen: 'after-bob' } })]);
    assert.deepEqual((await byUser(bob)).user_properties, { name: 'Bob', seen: 'after-bob' });
    assert.deepEqual((await byUser(alice)).user_properties, { name: 'Alice' });
    const d = await byDevice(device);
    assert.equal(d.amplitude_id, b.amplitude_id);
    assert.equal(d.user_id, bob);
  });

  it('an anonymous device is merged into a known user; the user\'s own values win', async () => {
    const s = h.server;
    const user = uid('user');
    const home = uid('device');
    const other = uid('device');
    await s.trackOk([ev({ user_id: user, device_id: home, user_properties: { plan: 'pro', shared: 'user' } })]);
    await s.trackOk([ev({ device_id: other, user_properties: { anon_only: 7, shared: 'anonymous' } })]);
    const u0 = await byUser(user);
    const anon = await byDevice(other);
    assert.notEqual(anon.amplitude_id, u0.amplitude_id);
    assert.ok(!('user_id' in anon), JSON.stringify(anon)); // seed dialect: left out for an anonymous device

    await s.trackOk([ev({ user_id: user, device_id: other })]);
    const u1 = await byUser(user);
    assert.equal(u1.amplitude_id, u0.amplitude_id, 'the known user keeps its amplitude_id');
    assert.deepEqual(u1.user_properties, { plan: 'pro', shared: 'user', anon_only: 7 });
    const d = await byDevice(other);
    assert.equal(d.amplitude_id, u0.amplitude_id, 'the merged device now reads the user');
    assert.equal(d.user_id, user);
    assert.deepEqual(d.user_properties, u1.user_properties);

    // Later anonymous events on the merged device update the user.
    await s.trackOk([ev({ device_id: other, user_properties: { after_merge: true } })]);
    assert.deepEqual((await byUser(user)).user_properties, {
      plan: 'pro',
      shared: 'user',
      anon_only: 7,
      after_merge: true,
    });
  });

  it('user_ids never merge, even after sharing devices back and forth', async () => {
    const s = h.server;
    const u1 = uid('user');
    const u2 = uid('user');
    const dA = uid('device');
    const dB = uid('device');
    await s.trackOk([ev({ user_id: u1, device_id: dA, user_properties: { who: 'one' } })]);
    await s.trackOk([ev({ user_id: u2, device_id: dA, user_properties: { who: 'two' } })]);
    await s.trackOk([ev({ user_id: u1, device_id: dA, user_properties: { back: 1 } })]);
    await s.trackOk([ev({ user_id: u2, device_id: dB })]);
    await s.trackOk([ev({ user_id: u1, device_id: dB, user_properties: { onB: true } })]);
    const p1 = await byUser(u1);
    const p2 = await byUser(u2);
    assert.notEqual(p1.amplitude_id, p2.amplitude_id);
    assert.deepEqual(p1.user_properties, { who: 'one', back: 1, onB: true });
    assert.deepEqual(p2.user_properties, { who: 'two' });
    assert.equal(p1.user_id, u1);
    assert.equal(p2.user_id, u2);
    // Each device reads its last user.
    assert.equal((await byDevice(dA)).user_id, u1);
    assert.equal((await byDevice(dB)).user_id, u1);
  });

  it('events in one batch resolve in order (anonymous, then login, then anonymous again)', async () => {
    const s = h.server;
    const user = uid('user');
    const device = uid('device');
    await s.trackOk([
      ev({ device_id: device, user_properties: { step: 1, anon: 'yes' } }),
      ev({ user_id: user, device_id: device, user_properties: { step: 2 } }),
      ev({ device_id: device, user_properties: { step: 3 } }),
    ]);
    const u = await byUser(user);
    assert.deepEqual(u.user_properties, { step: 3, anon: 'yes' });
    assert.equal((await byDevice(device)).amplitude_id, u.amplitude_id);
  });

  it('a user_id-only event creates a user readable by user_id', async () => {
    const s = h.server;
    const user = uid('user');
    await s.trackOk([ev({ user_id: user, user_properties: { only: 'user' } })]);
    const u = await byUser(user);
    assert.equal(u.user_id, user);
    assert.deepEqual(u.user_properties, { only: 'user' });
  });

  it('ids with spaces, symbols and non-ASCII characters are looked up exactly', async () => {
    const s = h.server;
    const ids = ['jane.doe+tag@example.com', 'user with spaces & more=1', 'Ünïcødé-用户-🙂', 'a/b?c#d%20e'];
    for (const [i, user] of ids.entries()) {
      const device = `${user}-device`;
      await s.trackOk([ev({ user_id: user, device_id: device, user_properties: { i } })]);
      const u = await byUser(user);
      assert.equal(u.user_id, user);
      assert.deepEqual(u.user_properties, { i });
      assert.equal((await byDevice(device)).amplitude_id, u.amplitude_id);
    }
    // Lookups are exact: case and neighbouring ids do not match.
    assert.equal((await s.profile({ user_id: 'JANE.DOE+tag@example.com' })).status, 404);
    assert.equal((await s.profile({ user_id: 'jane.doe tag@example.com' })).status, 404);
  });
});
