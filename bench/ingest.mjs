#!/usr/bin/env node
// Ingestion throughput: `--conns` keep-alive connections each post `--batch`-event bodies
// to /2/httpapi back to back (one request in flight per connection) for `--warmup` s,
// then for `--duration` s during which every answered request is counted.
//
// Bodies are generated before the clock starts: a pool of `--pool` distinct bodies. Every
// user_id, device_id and insert_id carries a 4-digit "round" field; when the pool has been
// sent once, the next round is a copy of each body with that field rewritten in place (a
// memcpy plus a few hundred 4-byte writes), so no id ever repeats and nothing is
// deduplicated. A body holds `--batch` ordinary track events from `--users-per-batch` new
// users (each with its own device), with a few event_properties and user_properties.
// With `--existing-users N` the events belong instead to the users bench/load_users.mjs
// created (user_id u%07d, device_id d%07d, 0 <= i < N): event n of the run goes to user
// (n * 7919) mod N, so the `--batch` events of a body (batch <= N) are all different
// users, and consecutive bodies walk the whole store (7919 is prime, coprime with N unless
// N is a multiple of it). This is the shape of server-side SDK batches.
//
// Prints one JSON line: events/s and requests/s over the measured window, request latency
// p50/p99 in ms, and the count of failed requests (not HTTP 200 with "code":200). With
// --server-pid it also reports CPU use over the measured window in % of one core: the
// server, this client, the rest of the machine, and hypervisor steal.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs, post, accepted, pad, percentile, cpuSample, cpuShares } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  url: 'http://127.0.0.1:8080',
  'api-key': 'bench-key',
  path: '/2/httpapi',
  conns: '32',
  batch: '100',
  'users-per-batch': '10',
  warmup: '5',
  duration: '20',
  pool: '1000',
  'server-pid': '',
  'existing-users': '0',
});
const url = new URL(opt.url);
const conns = Number(opt.conns);
const batch = Number(opt.batch);
const usersPerBatch = Number(opt['users-per-batch']);
const poolSize = Number(opt.pool);
const existingUsers = Number(opt['existing-users']);
if (existingUsers > 0 && existingUsers < batch) throw new Error('--existing-users must be >= --batch');
const warmupMs = Number(opt.warmup) * 1000;
const durationMs = Number(opt.duration) * 1000;
const run = randomBytes(3).toString('hex'); // distinct ids across runs on one store, too

const EVENT_TYPES = ['view_item', 'add_to_cart', 'search', 'page_view', 'purchase'];
const CATEGORIES = ['shoes', 'shirts', 'books', 'garden', 'toys', 'music'];
const PLANS = ['free', 'plus', 'team', 'enterprise'];
const COUNTRIES = ['DE', 'FR', 'US', 'GB', 'JP', 'BR'];
const MARK = '-R0000-';

function makeBody(b) {
  const now = Date.now();
  const events = [];
  for (let k = 0; k < batch; k++) {
    const n = b * batch + k;
    const u = existingUsers > 0 ? (n * 7919) % existingUsers : b * usersPerBatch + (k % usersPerBatch);
    const ids =
      existingUsers > 0
        ? { user_id: `u${pad(u, 7)}`, device_id: `d${pad(u, 7)}` }
        : { user_id: `ing-${run}${MARK}u${pad(u, 8)}`, device_id: `ing-${run}${MARK}d${pad(u, 8)}` };
    events.push({
      ...ids,
      event_type: EVENT_TYPES[n % EVENT_TYPES.length],
      time: now + k,
      insert_id: `ing-${run}${MARK}e${pad(n, 9)}`,
      platform: 'Web',
      os_name: 'Chrome',
      event_properties: {
        item_id: `sku-${pad((n * 7919) % 100000, 5)}`,
        category: CATEGORIES[n % CATEGORIES.length],
        price: ((n % 5000) + 99) / 100,
        position: n % 20,
      },
      user_properties: {
        plan: PLANS[u % PLANS.length],
        country: COUNTRIES[u % COUNTRIES.length],
        visits: 1 + (n % 50),
      },
    });
  }
  const buf = Buffer.from(JSON.stringify({ api_key: opt['api-key'], events }));
  const offsets = [];
  for (let at = buf.indexOf(MARK); at >= 0; at = buf.indexOf(MARK, at + 1)) offsets.push(at + 2);
  return { buf, offsets };
}

const genStart = process.hrtime.bigint();
const pool = Array.from({ length: poolSize }, (_, b) => makeBody(b));
const genSeconds = Number(process.hrtime.bigint() - genStart) / 1e9;
const bodyBytes = pool.reduce((s, p) => s + p.buf.length, 0) / poolSize;

let sent = 0;
function nextBody() {
  const i = sent++;
  const round = Math.floor(i / poolSize);
  const { buf, offsets } = pool[i % poolSize];
  if (round === 0) return buf;
  if (round > 9999) throw new Error('ran out of rounds; raise --pool');
  const copy = Buffer.from(buf);
  const digits = pad(round, 4);
  for (const o of offsets) copy.write(digits, o, 'latin1');
  return copy;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
const t0 = Date.now();
const measureFrom = t0 + warmupMs;
const measureTo = measureFrom + durationMs;
const latencies = [];
let measuredRequests = 0;
let failed = 0;
let failedSample = '';
const serverPid = opt['server-pid'] ? Number(opt['server-pid']) : 0;
let cpuFrom = null;
let cpu = {};
setTimeout(() => (cpuFrom = cpuSample(serverPid)), Math.max(0, measureFrom - Date.now()));
setTimeout(() => (cpu = cpuShares(cpuFrom, cpuSample(serverPid))), Math.max(0, measureTo - Date.now()));

async function connection() {
  while (Date.now() < measureTo) {
    const body = nextBody();
    const start = process.hrtime.bigint();
    let ok = false;
    try {
      const res = await post(agent, url, opt.path, body);
      ok = accepted(res);
      if (!ok && !failedSample) failedSample = `HTTP ${res.status} ${res.body.slice(0, 200)}`;
    } catch (e) {
      if (!failedSample) failedSample = e.message;
    }
    const end = Date.now();
    if (end >= measureFrom && end < measureTo) {
      if (ok) {
        measuredRequests++;
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
      } else {
        failed++;
      }
    }
  }
}

await Promise.all(Array.from({ length: conns }, connection));
agent.destroy();
latencies.sort((a, b) => a - b);
const seconds = durationMs / 1000;
if (failed) process.stderr.write(`ingest: ${failed} failed requests, e.g. ${failedSample}\n`);
console.log(
  JSON.stringify({
    conns,
    batch,
    users_per_batch: existingUsers > 0 ? batch : usersPerBatch,
    existing_users: existingUsers,
    body_bytes: Math.round(bodyBytes),
    seconds,
    events_per_s: Math.round((measuredRequests * batch) / seconds),
    requests_per_s: Math.round(measuredRequests / seconds),
    p50_ms: Number(percentile(latencies, 50).toFixed(2)),
    p99_ms: Number(percentile(latencies, 99).toFixed(2)),
    failed,
    ...cpu,
    generated_in_s: Number(genSeconds.toFixed(2)),
  }),
);
