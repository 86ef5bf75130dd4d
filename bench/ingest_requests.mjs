// Posts a fixed number of ingestion bodies and exits: the workload of
// bench/callgrind_ingest.sh. Each body holds 100 track events of 10 new users (the same
// shape as bench/ingest.mjs: 4 event properties, 3 user properties, an insert_id), sent
// over 4 keep-alive connections. Prints how many were answered 200. With
// --existing-users N the events belong instead to the users bench/load_users.mjs created,
// every event of a body a different one (event n to user (n * 7919) mod N, as
// bench/ingest.mjs --existing-users does). The first 5 answers that are not 200 are printed
// to stderr (status, then the body), as evidence.
//   node bench/ingest_requests.mjs --url URL --bodies N [--api-key KEY] [--offset K]
//                                  [--existing-users N]
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), { url: 'http://127.0.0.1:8080', bodies: 100, 'api-key': 'bench-key', offset: 0, 'existing-users': 0 });
const existingUsers = Number(opt['existing-users']);
const run = randomBytes(3).toString('hex');
const TYPES = ['view_item', 'add_to_cart', 'search', 'page_view', 'purchase'];

const now = Date.now();

function body(b) {
  const events = [];
  for (let k = 0; k < 100; k++) {
    const n = b * 100 + k;
    const u = existingUsers > 0 ? (n * 7919) % existingUsers : b * 10 + (k % 10);
    const ids =
      existingUsers > 0
        ? { user_id: `u${String(u).padStart(7, '0')}`, device_id: `d${String(u).padStart(7, '0')}` }
        : { user_id: `ing-${run}-u${u}`, device_id: `ing-${run}-d${u}` };
    events.push({
      ...ids,
      event_type: TYPES[n % TYPES.length],
      time: now + k, // dated now, as bench/ingest.mjs: rolling windows take them
      insert_id: `ing-${run}-e${n}`,
      platform: 'Web',
      os_name: 'Chrome',
      event_properties: { item_id: `sku-${(n * 7919) % 100000}`, category: 'books', price: ((n % 5000) + 99) / 100, position: n % 20 },
      user_properties: { plan: 'plus', country: 'DE', visits: 1 + (n % 50) },
    });
  }
  return JSON.stringify({ api_key: opt['api-key'], events });
}

const total = Number(opt.bodies);
const bodies = Array.from({ length: total }, (_, i) => body(Number(opt.offset) + i));
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
let next = 0;
let ok = 0;
let failed = 0;
function post(b) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${opt.url}/2/httpapi`, { method: 'POST', agent, headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks = [];
      if (res.statusCode === 200) res.resume();
      else res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode === 200) ok++;
        else if (++failed <= 5) process.stderr.write(`POST /2/httpapi: HTTP ${res.statusCode} ${Buffer.concat(chunks).toString()}\n`);
        resolve();
      });
    });
    req.on('error', reject);
    req.end(b);
  });
}
async function worker() {
  while (next < total) await post(bodies[next++]);
}
await Promise.all([worker(), worker(), worker(), worker()]);
agent.destroy();
console.log(JSON.stringify({ bodies: total, ok }));
