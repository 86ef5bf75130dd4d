// A full disk (issue 9, item 4): the data dir on a small tmpfs, filled by ingestion. Ingestion
// answers 503 (with the reason and Retry-After) and applies nothing of a refused batch, reads
// go on with the last acknowledged state, /healthz says the store cannot write, and once
// space returns ingestion works again without a restart. After kill -9 while full (and
// room made before the restart) and after a clean stop, every acknowledged event is there
// and no refused one.
//
// Needs `mount` (root or CAP_SYS_ADMIN); without it the test is skipped, saying why.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, configToml, describe, it, makeTempDir, SEED, startServer } from './harness.js';

const MOUNT_MB = 32;
const LEFT_FREE = 3 << 20; // what the ballast leaves for ingestion to fill
const USERS = 8;
const EVENTS_PER_BATCH = 10;
const PAD = 'x'.repeat(4096); // makes each event about 4 KiB in the event log

// The mount point lives outside the harness's temp dirs, whose removal at exit must never
// reach into a mounted file system; it is unmounted before anything else is removed.
const mounts = new Set();
function unmount(dir) {
  for (let i = 0; i < 50; i++) {
    if (spawnSync('umount', [dir]).status === 0) break;
    if (i === 49) spawnSync('umount', ['-l', dir]); // still busy: detach it
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
  mounts.delete(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}
// Registered after the harness's own exit hook (imported above), so servers are killed first.
process.on('exit', () => {
  for (const dir of [...mounts]) unmount(dir);
});

// Mounts a tmpfs of `mb` MiB; returns its path, or {skip: reason} when mounting is not allowed.
function mountTmpfs(mb) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'profiled-e2e-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim();
    return { skip: `mount -t tmpfs is not permitted here (needs root or CAP_SYS_ADMIN): ${why}` };
  }
  mounts.add(dir);
  return { dir };
}

// Writes `bytes` of zeros to `file` (a ballast that takes the space); stops quietly when the
// file system is full. Returns the bytes written.
function ballast(file, bytes) {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20);
  let written = 0;
  try {
    while (written < bytes) {
      written += fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
    }
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

function freeBytes(dir) {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

describe('a full disk', () => {
  const cleanups = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it('refuses writes with 503, serves reads, recovers by itself and loses nothing acknowledged', async (t) => {
    const mount = mountTmpfs(MOUNT_MB);
    if (mount.skip) {
      t.skip(mount.skip);
      return;
    }
    const dir = makeTempDir();
    const configPath = path.join(dir, 'disk-full.toml');
    const dataDir = path.join(mount.dir, 'data');
    fs.writeFileSync(configPath, configToml({ dataDir, durability: 'fsync' }));
    const server = await startServer({
      args: ['serve', '--config', configPath, '--listen', '127.0.0.1:0', '--data-dir', dataDir],
    });
    // Unmount once the server is gone, even when an assertion failed.
    cleanups.push(async () => {
      await server.dispose();
      unmount(mount.dir);
    });

    const run = `${process.pid}-${Date.now()}`;
    const users = Array.from({ length: USERS }, (_, i) => `full-${run}-${i}`);
    const acked = new Map(users.map((u) => [u, { n: 0, batches: [] }])); // acknowledged
    const refused = []; // {user, batch} of every batch answered 503
    let ackedEvents = 0;
    let batchNo = 0;
    // One batch of EVENTS_PER_BATCH events for one user: each adds 1 to n; the batch sets
    // its own property b<no>, so a refused batch's trace would show.
    const send = async () => {
      const no = batchNo++;
      const user = users[no % USERS];
      const events = Array.from({ length: EVENTS_PER_BATCH }, (_, i) => ({
        user_id: user,
        event_type: 'fill',
        insert_id: `${user}-${no}-${i}`,
        event_properties: { pad: PAD },
        user_properties: { $add: { n: 1 }, ...(i === 0 ? { $set: { [`b${no}`]: true } } : {}) },
      }));
      const res = await server.track(events);
      if (res.status === 200) {
        const a = acked.get(user);
        a.n += EVENTS_PER_BATCH;
        a.batches.push(no);
        ackedEvents += EVENTS_PER_BATCH;
      } else {
        assert.equal(res.status, 503, `an ingestion answer other than 200 or 503: ${res.status} ${res.text}`);
        refused.push({ user, no });
      }
      return res;
    };
    // Every user's profile holds exactly its acknowledged batches, no refused one.
    const checkProfiles = async (when) => {
      for (const user of users) {
        const res = await server.profile({ user_id: user });
        const a = acked.get(user);
        if (a.n === 0) {
          assert.equal(res.status, 404, `${when}: ${user} has nothing acknowledged: ${res.text}`);
          continue;
        }
        assert.equal(res.status, 200, `${when}: reading ${user}: ${res.status} ${res.text}`);
        const props = res.json.userData.user_properties;
        assert.equal(props.n, a.n, `${when}: ${user}'s n is its acknowledged events`);
        for (const no of a.batches) assert.equal(props[`b${no}`], true, `${when}: acknowledged batch ${no} of ${user}`);
        for (const r of refused) {
          if (r.user === user) assert.equal(props[`b${r.no}`], undefined, `${when}: refused batch ${r.no} of ${user} left a trace`);
        }
      }
    };

    // Some acknowledged state first, then a ballast leaves LEFT_FREE for ingestion to fill.
    for (let i = 0; i < USERS; i++) assert.equal((await send()).status, 200);
    const ballastFile = path.join(mount.dir, 'ballast');
    ballast(ballastFile, Math.max(0, freeBytes(mount.dir) - LEFT_FREE));

    let first503 = null;
    const fillDeadline = Date.now() + 60000;
    while (!first503 && Date.now() < fillDeadline) {
      const res = await send();
      if (res.status === 503) first503 = res;
    }
    assert.ok(first503, `no 503 after ${batchNo} batches (${ackedEvents} events acknowledged)`);
    t.diagnostic(`first 503 after ${batchNo} batches, ${ackedEvents} events acknowledged`);
    assert.equal(first503.json?.code, 503, first503.text);
    assert.match(first503.json.error, /^the store's disk is full; nothing of this request was applied, retry later$/);
    assert.equal(first503.headers['retry-after'], '5');

    // Whatever room the failed write left goes too, so the disk stays full until freed.
    const rest = ballast(path.join(mount.dir, 'ballast-rest'), 64 << 20);
    t.diagnostic(`the failed write left ${rest} bytes free`);
    for (let i = 0; i < 3; i++) {
      const res = await send();
      assert.equal(res.status, 503, `the disk is full: ${res.text}`);
      assert.match(res.json.error, /disk is full/);
    }
    const health = await server.request('GET', '/healthz');
    assert.equal(health.status, 503, health.text);
    assert.match(health.text, /^unavailable: the store cannot write/);
    assert.match(server.logs, /store write failed; writes are refused until the disk takes them again: .*No space left on device/);

    // Reads answer from the last acknowledged state; refused events are not counted.
    await checkProfiles('while full');
    const metrics = await server.metrics();
    assert.equal(metrics.get('profiled_events_ingested_total'), ackedEvents);

    // Space returns: ingestion works again without a restart (the next write probes the disk).
    fs.rmSync(ballastFile);
    fs.rmSync(path.join(mount.dir, 'ballast-rest'));
    const recoverDeadline = Date.now() + 30000;
    let recovered = false;
    while (!recovered && Date.now() < recoverDeadline) recovered = (await send()).status === 200;
    assert.ok(recovered, 'ingestion did not recover within 30 s of space returning');
    for (let i = 0; i < USERS; i++) assert.equal((await send()).status, 200);
    assert.equal((await server.request('GET', '/healthz')).status, 200);
    assert.match(server.logs, /store recovered from a failed write; writes resume/);
    await checkProfiles('after recovery');
    assert.equal((await server.metrics()).get('profiled_events_ingested_total'), ackedEvents);
    t.diagnostic(`${refused.length} batches refused, ${ackedEvents} events acknowledged`);

    // Full again, then kill -9 while full; the store opens once there is room again (at open
    // RocksDB replays the WAL into new table files). Then a clean stop. Every acknowledged
    // event survives each, no refused one.
    ballast(ballastFile, Math.max(0, freeBytes(mount.dir) - LEFT_FREE));
    let full = false;
    const refillDeadline = Date.now() + 60000;
    while (!full && Date.now() < refillDeadline) full = (await send()).status === 503;
    assert.ok(full, 'no 503 after filling the disk a second time');
    await server.kill9();
    fs.rmSync(ballastFile);
    await server.restart();
    await checkProfiles('after kill -9 while full');
    assert.equal((await server.stop()).code, 0);
    await server.restart();
    await checkProfiles('after a clean stop');
    assert.equal((await server.request('GET', '/healthz')).status, 200);
    assert.equal((await send()).status, 200);
  });
});
