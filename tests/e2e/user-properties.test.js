// User property operations through raw /2/httpapi (reference §2.1), including the cases
// the SDKs never produce: several values at once, several operations on one property,
// $skip_user_properties_sync and $groupidentify.
import assert from 'node:assert/strict';
import { describe, it, sharedServer, uid } from './harness.js';

describe('user property operations', () => {
  const h = sharedServer();

  // Sends each user_properties object as its own $identify batch; returns the properties.
  async function apply(...steps) {
    const user = uid('ops');
    for (const user_properties of steps) {
      await h.server.trackOk([{ user_id: user, event_type: '$identify', user_properties }]);
    }
    return (await h.server.userData({ user_id: user })).user_properties;
  }

  it('$set and $setOnce', async () => {
    assert.deepEqual(await apply({ $set: { a: 1, b: 'x' } }, { $set: { a: 2 }, $setOnce: { b: 'y', c: true } }), { a: 2, b: 'x', c: true });
  });

  it('$setOnce sets again after $unset', async () => {
    assert.deepEqual(await apply({ $setOnce: { s: 1 } }, { $unset: { s: '-' } }, { $setOnce: { s: 2 } }), { s: 2 });
  });

  it('$add: integers, negatives and decimals; a missing value counts as 0', async () => {
    assert.deepEqual(await apply({ $add: { i: 5, f: 1.5 } }, { $add: { i: -7, f: 2.25 } }), { i: -2, f: 3.75 });
  });

  it('$append and $prepend with several values keep their order', async () => {
    assert.deepEqual(
      await apply({ $append: { l: ['c'] } }, { $append: { l: ['d', 'e'] }, $prepend: { m: ['x'] } }, { $prepend: { l: ['a', 'b'], m: ['v', 'w'] } }),
      { l: ['a', 'b', 'c', 'd', 'e'], m: ['v', 'w', 'x'] },
    );
  });

  it('$append and $prepend keep duplicates; $preInsert and $postInsert do not', async () => {
    assert.deepEqual(
      await apply(
        { $set: { l: ['a', 'b'], p: ['a', 'b'] } },
        { $append: { l: ['b', 'c'] }, $postInsert: { p: ['b', 'c', 'c'] } },
        { $prepend: { l: ['a'] }, $preInsert: { p: ['z', 'a', 'y'] } },
      ),
      { l: ['a', 'a', 'b', 'b', 'c'], p: ['z', 'y', 'a', 'b', 'c'] },
    );
  });

  it('$remove deletes every matching element, including numbers and objects', async () => {
    assert.deepEqual(
      await apply({ $set: { l: ['a', 1, 'a', { k: 1 }, 2, 1] } }, { $remove: { l: ['a', 1] } }, { $remove: { l: { k: 1 } } }),
      { l: [2] },
    );
  });

  it('$unset removes only the named properties; unknown names are fine', async () => {
    assert.deepEqual(await apply({ $set: { a: 1, b: 2 } }, { $unset: { a: '-', nothing: '-' } }), { b: 2 });
  });

  it('$clearAll removes everything; later operations apply', async () => {
    assert.deepEqual(await apply({ $set: { a: 1, b: [1] } }, { $clearAll: '-' }), {});
    assert.deepEqual(await apply({ $set: { a: 1 } }, { $clearAll: '-' }, { $set: { c: 3 } }), { c: 3 });
  });

  it('several operations in one event apply in the SDK\'s documented order (unset, set, setOnce, add, ...)', async () => {
    // analytics-core lists the server's order: $clearAll, $unset, $set, $setOnce, $add,
    // $append, $prepend, $preInsert, $postInsert, $remove; JSON key order does not matter.
    assert.deepEqual(await apply({ $set: { n: 1 } }, { $add: { n: 1 }, $set: { n: 5 } }), { n: 6 });
    assert.deepEqual(await apply({ $set: { l: ['a'] } }, { $remove: { l: 'b' }, $append: { l: 'b' } }), { l: ['a'] });
  });

  it('plain user_properties on an ordinary event are $set and persist', async () => {
    const user = uid('plain');
    await h.server.trackOk([{ user_id: user, event_type: 'A', user_properties: { plan: 'free', obj: { deep: [1, { x: null }] } } }]);
    await h.server.trackOk([{ user_id: user, event_type: 'B' }]);
    await h.server.trackOk([{ user_id: user, event_type: 'C', user_properties: { plan: 'paid' } }]);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { plan: 'paid', obj: { deep: [1, { x: null }] } });
  });

  it('$skip_user_properties_sync: true ingests the event without touching properties', async () => {
    const user = uid('skip');
    await h.server.trackOk([{ user_id: user, event_type: 'A', user_properties: { a: 1 } }]);
    const r = await h.server.trackOk([{ user_id: user, event_type: 'B', $skip_user_properties_sync: true, user_properties: { a: 2, b: 3 } }]);
    assert.equal(r.events_ingested, 1);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { a: 1 });
  });

  it('$groupidentify changes no user properties of the sender', async () => {
    const user = uid('grp');
    await h.server.trackOk([{ user_id: user, event_type: 'A', user_properties: { a: 1 } }]);
    await h.server.trackOk([
      { user_id: user, event_type: '$groupidentify', groups: { org: 'acme' }, group_properties: { $set: { size: 10 } } },
    ]);
    assert.deepEqual((await h.server.userData({ user_id: user })).user_properties, { a: 1 });
  });

  it('values keep their JSON types', async () => {
    const props = { s: 'text', i: 42, neg: -1, f: 0.5, t: true, fl: false, nul: null, arr: [1, 'two', [3]], o: { k: 'v' }, big: 9007199254740991, e: '' };
    assert.deepEqual(await apply({ $set: props }), props);
  });

  it('unicode keys and values round-trip', async () => {
    const props = { 'ключ': 'значение', '日本': '東京 🗼', 'emoji 🎉': ['ü', 'ß'] };
    assert.deepEqual(await apply({ $set: props }), props);
  });
});
