// Privacy deletion time: a user with --user-events logged events in a log that also holds
// --other-events events of --other-users other users (interleaved in time), deleted through
// POST /api/2/deletions/users; prints the seconds from the request to the job's `done`.
//
//   node bench/deletion.mjs [--bin build/profiled] [--user-events 100000] [--other-events 900000]
//                           [--other-users 10000]
//
// Starts the binary itself on a fresh data dir (durability "fsync", default chunk size),
// loads the events through /batch (4 requests in flight, 2,000 events each; each answer means
// committed), then times the deletion (polling the job list every 20 ms).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { accepted, parseArgs, post } from './lib.mjs';

const args = parseArgs(process.argv.slice(2), {
  bin: 'build/profiled',
  'user-events': '100000',
  'other-events': '900000',
  'other-users': '10000',
});
const userEvents = Number(args['user-events']);
const otherEvents = Number(args['other-events']);
const otherUsers = Number(args['other-users']);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'profiled-deletion-bench-'));
fs.writeFileSync(
  path.join(dir, 'c.toml'),
  `[server]\nlisten = "127.0.0.1:0"\n[storage]\npath = "${dir}/data"\ndurability = "fsync"\n` +
    `[[projects]]\nid = "bench"\napi_key = "bench-api"\nsecret_key = "bench-secret"\n`,
);
const proc = spawn(path.resolve(args.bin), ['serve', '--config', path.join(dir, 'c.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
const port = await new Promise((resolve, reject) => {
  let text = '';
  proc.stderr.on('data', (c) => {
    text += c;
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
    if (m) resolve(Number(m[1]));
  });
  proc.on('exit', () => reject(new Error(`profiled exited: ${text}`)));
});
const url = new URL(`http://127.0.0.1:${port}`);
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
try {
  const total = userEvents + otherEvents;
  const every = Math.max(1, Math.round(total / Math.max(1, userEvents)));
  let sent = 0;
  let next = 0;
  const t0 = Date.now();
  async function worker() {
    for (;;) {
      const start = next;
      if (start >= total) return;
      next += 2000;
      const events = [];
      for (let i = start; i < Math.min(total, start + 2000); i++) {
        const mine = i % every === 0 && sent < userEvents;
        if (mine) sent++;
        const u = mine ? 'the-user' : `other-${i % otherUsers}`;
        events.push({ event_type: 'Viewed', user_id: u, device_id: `dev-${u}`, insert_id: `i${i}`, event_properties: { item: `sku-${i % 5000}` } });
      }
      const res = await post(agent, url, '/batch', Buffer.from(JSON.stringify({ api_key: 'bench-api', events })));
      if (!accepted(res)) throw new Error(`batch refused: ${res.status} ${res.body}`);
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()]);
  console.log(`loaded ${total} events (${sent} of the user) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const auth = `Basic ${Buffer.from('bench-api:bench-secret').toString('base64')}`;
  const call = (method, p, body) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: url.hostname, port, path: p, method, agent, headers: { Authorization: auth, 'Content-Type': 'application/json' } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const day = new Date().toISOString().slice(0, 10);
  const t1 = Date.now();
  const r = await call('POST', '/api/2/deletions/users', JSON.stringify({ user_ids: ['the-user'], requester: 'bench' }));
  if (r.status !== 200) throw new Error(`POST answered ${r.status}`);
  for (;;) {
    const list = await call('GET', `/api/2/deletions/users?start_day=${day}&end_day=${day}`);
    const job = list.json.find((j) => j.status === 'done');
    if (job) {
      const s = (Date.now() - t1) / 1000;
      console.log(`deleted the user: ${job.events_deleted} logged events in a log of ${total}, ${s.toFixed(2)} s from the request to done (${Math.round(total / s)} log events scanned/s)`);
      break;
    }
    await new Promise((res) => setTimeout(res, 20));
  }
} finally {
  proc.kill('SIGTERM');
  await new Promise((res) => proc.on('exit', res));
  fs.rmSync(dir, { recursive: true, force: true });
}
