#!/usr/bin/env node
// Loads N synthetic users into a running profiled through the real ingestion API:
// POST /batch with `--batch` $identify events per request over `--conns` keep-alive
// connections. User i has user_id u%07d, device_id d%07d and 20 $set properties whose
// values are fixed-width (10 strings of 16 letters, 10 integers of 9 digits), so every
// profile response has the same length (up to the width of the server-assigned
// amplitude_id). Values are a deterministic function of i. `--properties N` sets N
// properties instead of 20 (0: an $identify that sets none).
//
// With `--events E` each user also gets E tracked events after its $identify, so that
// computed properties and cohorts (bench/definitions.json) have something to aggregate:
// types among purchase, view_item, add_to_cart, search and page_view, with event_properties
// item_id (one of 1,000), category (one of 6), price and position, a platform, and for
// purchases a revenue. Their `time` values lie in the past, from now back to 400 days ago
// (skewed towards recent days: a day d = 400 * r^2 for a uniform r), as an import or a
// backlog of SDK retries would send them. A request then holds `--batch` users and their
// events; the default batch shrinks to keep requests within /batch's 2,000 events.
//
// Prints progress to stderr and one JSON line with the totals to stdout; exits 1 if any
// batch was not accepted.
import http from 'node:http';
import { parseArgs, post, accepted, prng, pad } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  url: 'http://127.0.0.1:8080',
  'api-key': 'bench-key',
  users: '1000000',
  batch: '',
  events: '0',
  properties: '20',
  conns: '4',
  first: '0',
});
const url = new URL(opt.url);
const users = Number(opt.users);
const eventsPerUser = Number(opt.events);
const batchSize = opt.batch ? Number(opt.batch) : eventsPerUser ? Math.floor(2000 / (1 + eventsPerUser)) : 1000;
const conns = Number(opt.conns);
const first = Number(opt.first);

const PROPERTY_COUNT = Number(opt.properties);
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function userProperties(i) {
  const rnd = prng(i * 2654435761);
  const props = {};
  for (let p = 1; p <= PROPERTY_COUNT; p++) {
    const name = `prop_${pad(p, 2)}`;
    if (p % 2 === 1) {
      let s = '';
      for (let k = 0; k < 16; k++) s += LETTERS[Math.floor(rnd() * 26)];
      props[name] = s;
    } else {
      props[name] = 100000000 + Math.floor(rnd() * 900000000);
    }
  }
  return props;
}

const EVENT_TYPES = ['view_item', 'view_item', 'page_view', 'search', 'add_to_cart', 'purchase'];
const CATEGORIES = ['shoes', 'shirts', 'books', 'garden', 'toys', 'music'];
const PLATFORMS = ['Web', 'iOS', 'Android'];
const DAY_MS = 86400000;
const loadStart = Date.now();

function userEvents(i, events) {
  const rnd = prng(i * 40503 + 17);
  for (let k = 0; k < eventsPerUser; k++) {
    const r = rnd();
    const type = EVENT_TYPES[Math.floor(rnd() * EVENT_TYPES.length)];
    const price = Math.round((0.99 + rnd() * 50) * 100) / 100;
    const e = {
      user_id: `u${pad(i, 7)}`,
      device_id: `d${pad(i, 7)}`,
      event_type: type,
      time: loadStart - Math.floor(r * r * 400 * DAY_MS),
      insert_id: `load-${pad(i, 7)}-${k}`,
      platform: PLATFORMS[Math.floor(rnd() * PLATFORMS.length)],
      event_properties: {
        item_id: `sku-${pad(Math.floor(rnd() * 1000), 4)}`,
        category: CATEGORIES[Math.floor(rnd() * CATEGORIES.length)],
        price,
        position: Math.floor(rnd() * 20),
      },
    };
    if (type === 'purchase') e.revenue = price;
    events.push(e);
  }
}

function batchBody(b) {
  const lo = first + b * batchSize;
  const hi = Math.min(first + users, lo + batchSize);
  const events = [];
  for (let i = lo; i < hi; i++) {
    events.push({
      user_id: `u${pad(i, 7)}`,
      device_id: `d${pad(i, 7)}`,
      event_type: '$identify',
      insert_id: `load-${pad(i, 7)}`,
      user_properties: { $set: userProperties(i) },
    });
    userEvents(i, events);
  }
  return Buffer.from(JSON.stringify({ api_key: opt['api-key'], events }));
}

const batches = Math.ceil(users / batchSize);
const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
let next = 0;
let done = 0;
let failed = 0;
let lastReport = 0;
const t0 = process.hrtime.bigint();

async function worker() {
  for (;;) {
    const b = next++;
    if (b >= batches) return;
    const body = batchBody(b);
    let ok = false;
    for (let attempt = 0; attempt < 3 && !ok; attempt++) {
      try {
        const res = await post(agent, url, '/batch', body);
        ok = accepted(res);
        if (!ok) process.stderr.write(`batch ${b}: HTTP ${res.status} ${res.body.slice(0, 200)}\n`);
      } catch (e) {
        process.stderr.write(`batch ${b}: ${e.message}\n`);
      }
    }
    if (!ok) failed++;
    done++;
    const pct = Math.floor((done * 10) / batches);
    if (pct > lastReport) {
      lastReport = pct;
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      process.stderr.write(`load: ${pct * 10}% (${done}/${batches} batches, ${s.toFixed(1)} s)\n`);
    }
  }
}

await Promise.all(Array.from({ length: conns }, worker));
agent.destroy();
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(
  JSON.stringify({
    users,
    events_per_user: eventsPerUser,
    batch: batchSize,
    conns,
    seconds: Number(seconds.toFixed(2)),
    users_per_s: Math.round(users / seconds),
    events_per_s: Math.round((users * (1 + eventsPerUser)) / seconds),
    failed_batches: failed,
  }),
);
process.exit(failed ? 1 : 0);
