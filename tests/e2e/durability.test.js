// What survives a crash and a restart: a 2xx with durability = "fsync" means the data is
// on disk (CONTRACT §2), SIGTERM/SIGINT stop cleanly with exit 0 (CONTRACT §1), and
// insert_id de-duplication holds across restarts.
import assert from 'node:assert/strict';
import net from 'node:net';
import { AMP, describe, it, request, SEED, sleep, startServer, uid } from './harness.js';

// Ingests `batches` batches for one user; each sets its own property and adds 1 to n.
async function ingestMany(server, user, device, batches) {
  for (let i = 0; i < batches; i++) {
    await server.trackOk([
      {
        user_id: user,
        device_id: device,
        event_type: '$identify',
        insert_id: `${user}-${i}`,
        user_properties: { $set: { [`b${i}`]: i }, $add: { n: 1 } },
      },
    ]);
  }
}

function expectedProps(batches) {
  const p = {};
  for (let i = 0; i < batches; i++) p[`b${i}`] = i;
  p.n = batches;
  return p;
}

describe('durability', () => {
  it('fsync: everything answered 200 survives kill -9', async () => {
    const server = await startServer({ durability: 'fsync' });
    try {
      const user = uid('crash');
      const device = uid('crash-device');
      const anon = uid('crash-anon');
      await ingestMany(server, user, device, 25);
      await server.trackOk([{ device_id: anon, event_type: 'x', user_properties: { anon: true } }]);
      const before = await server.userData({ user_id: user });
      const beforeAnon = await server.userData({ device_id: anon });

      const exit = await server.kill9();
      assert.equal(exit.signal, 'SIGKILL');
      await server.restart();

      const after = await server.userData({ user_id: user });
      assert.deepEqual(after, before);
      assert.deepEqual(after.user_properties, expectedProps(25));
      assert.deepEqual(await server.userData({ device_id: device }), before);
      assert.deepEqual(await server.userData({ device_id: anon }), beforeAnon);

      // amplitude_ids are never handed out twice, even after a crash.
      const fresh = uid('fresh');
      await server.trackOk([{ user_id: fresh, event_type: 'x' }]);
      const f = await server.userData({ user_id: fresh });
      assert.notEqual(f.amplitude_id, before.amplitude_id);
      assert.notEqual(f.amplitude_id, beforeAnon.amplitude_id);
    } finally {
      await server.dispose();
    }
  });

  it('buffered: a 2xx means written to the OS, so it survives kill -9 (not a power cut)', async () => {
    const server = await startServer({ durability: 'buffered' });
    try {
      const user = uid('buf');
      const device = uid('buf-device');
      await ingestMany(server, user, device, 10);
      await server.kill9();
      await server.restart();
      assert.deepEqual((await server.userData({ user_id: user })).user_properties, expectedProps(10));
    } finally {
      await server.dispose();
    }
  });

  it('fsync: concurrent batches answered 200 right before kill -9 all survive', async () => {
    const server = await startServer({ durability: 'fsync' });
    try {
      const users = Array.from({ length: 40 }, () => uid('conc'));
      const responses = await Promise.all(
        users.map((u) => server.track([{ user_id: u, event_type: '$identify', user_properties: { $set: { id: u } } }])),
      );
      for (const r of responses) assert.equal(r.status, 200, r.text);
      await server.kill9();
      await server.restart();
      for (const u of users) {
        assert.deepEqual((await server.userData({ user_id: u })).user_properties, { id: u });
      }
    } finally {
      await server.dispose();
    }
  });

  for (const durability of ['fsync', 'buffered']) {
    it(`${durability}: SIGTERM exits 0 and the data is there after a restart`, async () => {
      const server = await startServer({ durability });
      try {
        const user = uid('term');
        const device = uid('term-device');
        await ingestMany(server, user, device, 10);
        const before = await server.userData({ user_id: user });
        const exit = await server.stop();
        assert.deepEqual(exit, { code: 0, signal: null }, server.logs);
        await server.restart();
        assert.deepEqual(await server.userData({ user_id: user }), before);
        assert.deepEqual(before.user_properties, expectedProps(10));
        assert.deepEqual(await server.userData({ device_id: device }), before);
      } finally {
        await server.dispose();
      }
    });
  }

  it('SIGINT exits 0 as well', async () => {
    const server = await startServer();
    try {
      const user = uid('int');
      await server.trackOk([{ user_id: user, event_type: 'x', user_properties: { a: 1 } }]);
      server.proc.kill('SIGINT');
      const exit = await server.waitExit();
      assert.deepEqual(exit, { code: 0, signal: null }, server.logs);
      await server.restart();
      assert.deepEqual((await server.userData({ user_id: user })).user_properties, { a: 1 });
    } finally {
      await server.dispose();
    }
  });

  it('SIGTERM during a burst of requests: every batch answered 200 is kept, and the exit is 0', async () => {
    const server = await startServer({ durability: 'fsync' });
    try {
      const base = server.base;
      const users = Array.from({ length: 60 }, () => uid('burst'));
      const send = (u) =>
        request(`${base}/2/httpapi`, {
          method: 'POST',
          json: { api_key: SEED.api_key, events: [{ user_id: u, event_type: 'x', user_properties: { u } }] },
        }).then(
          (r) => ({ u, status: r.status }),
          (e) => ({ u, error: e.code || e.message }),
        );
      const pending = users.map(send);
      // Stop while requests are still arriving.
      await pending[0];
      server.proc.kill('SIGTERM');
      const results = await Promise.all(pending);
      const exit = await server.waitExit();
      assert.deepEqual(exit, { code: 0, signal: null }, server.logs);
      const accepted = results.filter((r) => r.status === 200).map((r) => r.u);
      assert.ok(accepted.length >= 1);
      for (const r of results) {
        // Anything answered must be a real answer: 200, or 503 while shutting down.
        if (r.status !== undefined) assert.ok([200, 503].includes(r.status), JSON.stringify(r));
      }
      await server.restart();
      for (const u of accepted) {
        assert.deepEqual((await server.userData({ user_id: u })).user_properties, { u }, `user ${u} was answered 200`);
      }
    } finally {
      await server.dispose();
    }
  });

  it('SIGTERM lets a request whose body is still arriving finish with 200', async () => {
    const server = await startServer({ durability: 'fsync' });
    try {
      const user = uid('slow');
      const body = Buffer.from(JSON.stringify({ api_key: SEED.api_key, events: [{ user_id: user, event_type: 'x', user_properties: { slow: true } }] }));
      const sock = net.connect({ host: '127.0.0.1', port: server.port });
      await new Promise((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      let received = '';
      sock.setEncoding('latin1');
      sock.on('data', (c) => (received += c));
      const closed = new Promise((resolve) => sock.on('close', resolve));
      sock.write(`POST /2/httpapi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      sock.write(body.subarray(0, 20));
      await sleep(300);
      server.proc.kill('SIGTERM');
      await sleep(300);
      sock.end(body.subarray(20));
      await closed;
      assert.match(received, /^HTTP\/1\.1 200 /, received);
      assert.match(received, /"code":200/);
      const exit = await server.waitExit();
      assert.deepEqual(exit, { code: 0, signal: null }, server.logs);
      await server.restart();
      assert.deepEqual((await server.userData({ user_id: user })).user_properties, { slow: true });
    } finally {
      await server.dispose();
    }
  });

  describe('insert_id de-duplication', () => {
    it('the same insert_id on the same device applies once, in one batch or across batches', async () => {
      const server = await startServer();
      try {
        const user = uid('dd');
        const device = uid('dd-device');
        const ev = (insert_id) => ({ user_id: user, device_id: device, event_type: '$identify', insert_id, user_properties: { $add: { count: 1 } } });
        const r = await server.trackOk([ev('ins-1'), ev('ins-1')]);
        assert.equal(r.code, 200);
        await server.trackOk([ev('ins-1')]);
        assert.deepEqual((await server.userData({ user_id: user })).user_properties, { count: 1 });
        await server.trackOk([ev('ins-2')]);
        assert.deepEqual((await server.userData({ user_id: user })).user_properties, { count: 2 });
      } finally {
        await server.dispose();
      }
    });

    it('de-duplication is per device: the same insert_id on another device applies', async () => {
      const server = await startServer();
      try {
        const user = uid('dd');
        const ev = (device_id) => ({ user_id: user, device_id, event_type: '$identify', insert_id: 'shared-insert-id', user_properties: { $add: { count: 1 } } });
        await server.trackOk([ev(uid('dev-a'))]);
        await server.trackOk([ev(uid('dev-b'))]);
        assert.deepEqual((await server.userData({ user_id: user })).user_properties, { count: 2 });
      } finally {
        await server.dispose();
      }
    });

    it('events without a device_id are de-duplicated per user', async () => {
      const server = await startServer();
      try {
        const user = uid('dd-user');
        const other = uid('dd-other');
        const ev = (user_id) => ({ user_id, event_type: '$identify', insert_id: 'user-scoped', user_properties: { $add: { count: 1 } } });
        await server.trackOk([ev(user), ev(user)]);
        await server.trackOk([ev(user), ev(other)]);
        assert.deepEqual((await server.userData({ user_id: user })).user_properties, { count: 1 });
        assert.deepEqual((await server.userData({ user_id: other })).user_properties, { count: 1 });
      } finally {
        await server.dispose();
      }
    });

    it('de-duplication is per project', async () => {
      const server = await startServer({ projects: [SEED, AMP] });
      try {
        const user = uid('dd-proj');
        const device = uid('dd-proj-device');
        const ev = { user_id: user, device_id: device, event_type: '$identify', insert_id: 'same-everywhere', user_properties: { $add: { count: 1 } } };
        await server.trackOk([ev], { apiKey: SEED.api_key });
        await server.trackOk([ev], { apiKey: AMP.api_key });
        assert.deepEqual((await server.userData({ user_id: user })).user_properties, { count: 1 });
        const amp = await server.userData({ user_id: user, get_amp_props: 'true' }, { secret: AMP.secret_key });
        assert.equal(amp.amp_props.count, 1);
      } finally {
        await server.dispose();
      }
    });

    it('an insert_id seen before a restart (graceful or kill -9) is still a duplicate after it', async () => {
      const server = await startServer({ durability: 'fsync' });
      try {
        const user = uid('ddr');
        const device = uid('ddr-device');
        const ev = (insert_id) => ({ user_id: user, device_id: device, event_type: '$identify', insert_id, user_properties: { $add: { count: 1 } } });
        await server.trackOk([ev('a')]);
        assert.equal((await server.stop()).code, 0);
        await server.restart();
        await server.trackOk([ev('a')]);
        assert.deepEqual((await server.userData({ user_id: user })).user_properties, { count: 1 });

        await server.trackOk([ev('b')]);
        await server.kill9();
        await server.restart();
        await server.trackOk([ev('b'), ev('a')]);
        assert.deepEqual((await server.userData({ user_id: user })).user_properties, { count: 2 });
      } finally {
        await server.dispose();
      }
    });
  });
});
