#!/usr/bin/env node
// The soak client (bench/soak.sh runs it): mixed profile reads and ingestion against a
// running profiled whose store bench/load_users.mjs filled with --users users (u%07d).
//
// 1. Capacity: --conns connections send the mix back to back (closed loop) for
//    --capacity-seconds; the requests answered per second over its last two thirds are the
//    capacity.
// 2. Soak: requests are sent on a fixed schedule at --load x capacity (open loop) for
//    --duration seconds. A request's latency runs from the moment it was due, not from when
//    it was sent, so a server that falls behind shows as latency rather than as a slower
//    schedule. At most --max-outstanding requests are in flight (over at most --sockets
//    connections); a request due while that many wait is counted as `late` (an error) and
//    not sent.
//
// The mix: --read-share of the requests are GET /v1/userprofile of a random user, of which
// --rec-share also ask for recommendation --rec-id; the rest are POST /2/httpapi of --batch
// events. Events go to random users of the store, except --new-user-share of them, which go
// to users never seen before (the store grows as a product's does). Event types, properties
// and items are the shapes bench/definitions.json aggregates and the recommendation trains on.
//
// Every --interval seconds (and once more for the answers that came after the schedule
// ended, marked "drain") it prints one JSON line: requests answered per second (reads,
// ingestion), p50/p99/max latency in ms, errors by kind, and the server's RSS (VmRSS) and
// peak (VmHWM) in MiB, its data dir's size (--data-dir), and CPU use in % of one core (the
// server, this client, the rest of the machine; bench/lib.mjs cpuShares). At the end, one
// JSON line {"summary": ...}: totals over the soak, p99 over it, and how RSS moved: its
// value at the first and the last sample, the first half's and the second half's median,
// and the slope of a least-squares line through the second half's samples in MiB per
// minute.
import fs from 'node:fs';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { parseArgs, prng, pad, percentile, cpuSample, cpuShares } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  url: 'http://127.0.0.1:8080',
  'api-key': 'soak-key',
  secret: 'soak-secret',
  users: '100000',
  'read-share': '0.8',
  'rec-share': '0.25',
  'rec-id': 'r1',
  batch: '10',
  'new-user-share': '0.05',
  conns: '16',
  'capacity-seconds': '90',
  load: '0.7',
  duration: '600',
  interval: '10',
  sockets: '64',
  'max-outstanding': '2048',
  'server-pid': '',
  'data-dir': '',
  seed: '7',
});
const url = new URL(opt.url);
const users = Number(opt.users);
const readShare = Number(opt['read-share']);
const recShare = Number(opt['rec-share']);
const batch = Number(opt.batch);
const newUserShare = Number(opt['new-user-share']);
const random = prng(Number(opt.seed));
// Reads and ingestion have connections of their own (as a product's back end and its SDKs
// do), at most --sockets each; requests beyond them wait in the agent's queue (their wait
// counts in their latency), so a slow ingestion answer never holds up a read in the client.
const readAgent = new http.Agent({ keepAlive: true, maxSockets: Number(opt.sockets) });
const ingestAgent = new http.Agent({ keepAlive: true, maxSockets: Number(opt.sockets) });
const run = Date.now().toString(36);

const EVENT_TYPES = ['view_item', 'view_item', 'view_item', 'page_view', 'search', 'add_to_cart', 'purchase'];
const CATEGORIES = ['shoes', 'shirts', 'books', 'garden', 'toys', 'music'];
const PLATFORMS = ['Web', 'iOS', 'Android'];
let newUsers = 0;
let insertSeq = 0;

function randomUser() {
  return `u${pad(Math.floor(random() * users), 7)}`;
}

// An item skewed towards the popular ones (item k with weight about 1/(k+1)), as views are.
function item() {
  return `sku-${pad(Math.min(999, Math.floor(Math.exp(random() * Math.log(1000)) - 1)), 4)}`;
}

function ingestBody() {
  const events = [];
  const now = Date.now();
  for (let k = 0; k < batch; k++) {
    const user = random() < newUserShare ? `soak-${run}-${newUsers++}` : randomUser();
    const type = EVENT_TYPES[Math.floor(random() * EVENT_TYPES.length)];
    const price = Math.round((0.99 + random() * 50) * 100) / 100;
    const e = {
      user_id: user,
      device_id: `dev-${user}`,
      event_type: type,
      time: now,
      insert_id: `soak-${run}-${insertSeq++}`,
      platform: PLATFORMS[Math.floor(random() * PLATFORMS.length)],
      event_properties: {
        item_id: item(),
        category: CATEGORIES[Math.floor(random() * CATEGORIES.length)],
        price,
        position: Math.floor(random() * 20),
      },
    };
    if (type === 'purchase') e.revenue = price;
    if (random() < 0.2) e.user_properties = { $set: { plan: ['free', 'plus', 'team'][k % 3] }, $add: { visits: 1 } };
    events.push(e);
  }
  return JSON.stringify({ api_key: opt['api-key'], events });
}

// One request of the mix; resolves to {kind, status} (status 0: the socket failed).
function oneRequest() {
  const read = random() < readShare;
  const kind = read ? 'read' : 'ingest';
  let options;
  let body = null;
  if (read) {
    const recs = random() < recShare ? `&get_recs=true&rec_id=${opt['rec-id']}` : '';
    options = {
      method: 'GET',
      path: `/v1/userprofile?user_id=${randomUser()}${recs}`,
      headers: { Authorization: `Api-Key ${opt.secret}` },
    };
  } else {
    body = ingestBody();
    options = {
      method: 'POST',
      path: '/2/httpapi',
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    };
  }
  return new Promise((resolve) => {
    const agent = read ? readAgent : ingestAgent;
    const req = http.request({ host: url.hostname, port: url.port, agent, ...options }, (res) => {
      res.resume();
      res.on('end', () => resolve({ kind, status: res.statusCode }));
      res.on('error', () => resolve({ kind, status: 0 }));
    });
    req.on('error', () => resolve({ kind, status: 0 }));
    req.end(body);
  });
}

// Answers counted between two samples.
class Window {
  constructor() {
    this.latency = { read: [], ingest: [] };
    this.errors = {};
    this.late = 0;
  }
  add(kind, status, ms) {
    this.latency[kind].push(ms);
    // A read of a user the store does not hold is a 404 only when the load went wrong.
    if (status !== 200) this.errors[`${kind}_${status}`] = (this.errors[`${kind}_${status}`] || 0) + 1;
  }
  errorCount() {
    return this.late + Object.values(this.errors).reduce((a, b) => a + b, 0);
  }
}

function memoryMiB() {
  if (!opt['server-pid']) return {};
  const status = fs.readFileSync(`/proc/${opt['server-pid']}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)[1]);
  return { rss_mib: Math.round(kb('VmRSS') / 1024), peak_mib: Math.round(kb('VmHWM') / 1024) };
}

function dataMiB() {
  if (!opt['data-dir']) return {};
  const kb = Number(execFileSync('du', ['-sk', opt['data-dir']]).toString().split('\t')[0]);
  return { data_mib: Math.round(kb / 1024) };
}

const round1 = (x) => Math.round(x * 10) / 10;

function latencyFigures(list) {
  const sorted = [...list].sort((a, b) => a - b);
  return { n: sorted.length, p50: round1(percentile(sorted, 50)), p99: round1(percentile(sorted, 99)),
           max: round1(sorted.length ? sorted[sorted.length - 1] : NaN) };
}

// The closed loop runs --capacity-seconds; the first third warms up (caches, the first
// flushes and compactions) and the rest is measured.
async function capacity() {
  const total = Number(opt['capacity-seconds']) * 1000;
  const begin = performance.now();
  const measureFrom = begin + total / 3;
  const end = begin + total;
  let answered = 0;
  let errors = 0;
  let cpu;
  async function worker() {
    while (performance.now() < end) {
      const r = await oneRequest();
      if (performance.now() < measureFrom) continue;
      answered++;
      if (r.status !== 200) errors++;
    }
  }
  const warm = new Promise((resolve) => setTimeout(resolve, total / 3));
  const running = Promise.all(Array.from({ length: Number(opt.conns) }, worker));
  await warm;
  const t0 = performance.now();
  cpu = cpuSample(Number(opt['server-pid']) || 0);
  await running;
  const seconds = (performance.now() - t0) / 1000;
  return { requests_per_s: Math.round(answered / seconds), errors, conns: Number(opt.conns), seconds: round1(seconds),
           ...cpuShares(cpu, cpuSample(Number(opt['server-pid']) || 0)) };
}

async function soak(rate) {
  const durationMs = Number(opt.duration) * 1000;
  const intervalMs = Number(opt.interval) * 1000;
  const maxOutstanding = Number(opt['max-outstanding']);
  const samples = [];
  const all = { read: [], ingest: [] };
  let window = new Window();
  let outstanding = 0;
  let sent = 0;
  let errors = 0;
  const t0 = performance.now();
  let nextSample = t0 + intervalMs;
  let windowStart = t0;
  const serverPid = Number(opt['server-pid']) || 0;
  let cpu = cpuSample(serverPid);
  const inflight = new Set();

  function takeSample(now, drain = false) {
    const seconds = (now - windowStart) / 1000;
    const sample = {
      t_s: Math.round((now - t0) / 1000),
      ...(drain ? { drain: true } : {}),
      reads_per_s: Math.round(window.latency.read.length / seconds),
      ingest_per_s: Math.round(window.latency.ingest.length / seconds),
      read_ms: latencyFigures(window.latency.read),
      ingest_ms: latencyFigures(window.latency.ingest),
      errors: { ...window.errors, ...(window.late ? { late: window.late } : {}) },
      ...memoryMiB(),
      ...dataMiB(),
    };
    const cpuNow = cpuSample(serverPid);
    Object.assign(sample, cpuShares(cpu, cpuNow));
    cpu = cpuNow;
    delete sample.read_ms.n;
    delete sample.ingest_ms.n;
    errors += window.errorCount();
    all.read.push(...window.latency.read);
    all.ingest.push(...window.latency.ingest);
    samples.push(sample);
    console.log(JSON.stringify(sample));
    window = new Window();
    windowStart = now;
  }

  const intervalBetween = 1000 / rate;
  let due = t0;
  while (due < t0 + durationMs) {
    const now = performance.now();
    if (now >= nextSample) {
      takeSample(now);
      nextSample += intervalMs;
    }
    while (due <= now && due < t0 + durationMs) {
      const scheduled = due;
      due += intervalBetween;
      if (outstanding >= maxOutstanding) {
        window.late++;
        continue;
      }
      outstanding++;
      sent++;
      const p = oneRequest().then((r) => {
        outstanding--;
        window.add(r.kind, r.status, performance.now() - scheduled); // the window it was answered in
      });
      inflight.add(p);
      p.then(() => inflight.delete(p));
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(due, nextSample) - performance.now())));
  }
  await Promise.all(inflight);
  takeSample(performance.now(), true); // the answers still due when the schedule ended

  const rss = samples.map((s) => s.rss_mib).filter((x) => x !== undefined);
  const half = Math.floor(rss.length / 2);
  const median = (xs) => percentile([...xs].sort((a, b) => a - b), 50);
  const secondHalf = samples.slice(half).filter((s) => s.rss_mib !== undefined);
  let slope = null;
  if (secondHalf.length >= 2) {
    const xs = secondHalf.map((s) => s.t_s / 60);
    const ys = secondHalf.map((s) => s.rss_mib);
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    const num = xs.reduce((acc, x, i) => acc + (x - mx) * (ys[i] - my), 0);
    const den = xs.reduce((acc, x) => acc + (x - mx) ** 2, 0);
    slope = round1(num / den);
  }
  return {
    target_per_s: Math.round(rate),
    seconds: Number(opt.duration),
    sent,
    answered_per_s: Math.round((all.read.length + all.ingest.length) / Number(opt.duration)),
    read_ms: latencyFigures(all.read),
    ingest_ms: latencyFigures(all.ingest),
    errors,
    new_users: newUsers,
    rss_mib: rss.length
      ? { first: rss[0], last: rss[rss.length - 1], first_half_median: median(rss.slice(0, half)),
          second_half_median: median(rss.slice(half)), second_half_slope_mib_per_min: slope }
      : null,
  };
}

const cap = await capacity();
console.log(JSON.stringify({ capacity: cap }));
const summary = await soak(cap.requests_per_s * Number(opt.load));
summary.capacity_per_s = cap.requests_per_s;
summary.load = Number(opt.load);
console.log(JSON.stringify({ summary }));
readAgent.destroy();
ingestAgent.destroy();
