#!/usr/bin/env node
// What a query suffix adds to a profile read's latency, measured in pairs: one keep-alive
// connection, requests one at a time, alternating a plain read and the same user's read with
// --query (which goes first alternates too), each timed on the client (process.hrtime).
// Both variants see the same machine at the same moments, so the difference of their
// percentiles is the suffix's cost with the machine's noise shared between them.
// Prints one JSON object: per variant n, p50, p90, p99, p99.9 and max in microseconds, and
// "added" = recs minus plain at p50, p90 and p99; and "server": the server's own timing of
// the same reads from /metrics (profiled_http_request_duration_seconds of "/v1/userprofile"
// and "/v1/userprofile?get_recs", status 200, from a request's last byte to its answer
// queued): the share within 100 µs and the bucket bounds holding 50 % and 99 %. Used by
// bench/recs_read.sh (RECS_PAIRED).
//
//   node bench/paired_latency.mjs --url URL --secret S --users-file F --query Q --n 20000
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs, prng } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  url: 'http://127.0.0.1:8080',
  secret: 'bench-secret',
  'users-file': '',
  query: '',
  n: '20000',
  warmup: '1000',
  seed: '1',
});
const url = new URL(opt.url);
const users = fs.readFileSync(opt['users-file'], 'utf8').split('\n').filter((l) => l);
const random = prng(Number(opt.seed));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(path) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    http
      .get({ host: url.hostname, port: url.port, path, agent,
             headers: { Authorization: `Api-Key ${opt.secret}` } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`${path}: HTTP ${res.statusCode}`));
          resolve(Number(process.hrtime.bigint() - start) / 1000);
        });
      })
      .on('error', reject);
  });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(samples) {
  const s = Float64Array.from(samples).sort();
  const r = (v) => Math.round(v * 10) / 10;
  return { n: s.length, p50: r(percentile(s, 50)), p90: r(percentile(s, 90)),
           p99: r(percentile(s, 99)), 'p99.9': r(percentile(s, 99.9)), max: r(s[s.length - 1]) };
}

// The server's own timing of each route (profiled_http_request_duration_seconds, status
// 200): bucket upper bound in seconds -> cumulative count.
async function serverBuckets() {
  const text = await new Promise((resolve, reject) => {
    http.get({ host: url.hostname, port: url.port, path: '/metrics', agent }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  const out = { plain: new Map(), recs: new Map() };
  for (const line of text.split('\n')) {
    const m = line.match(/^profiled_http_request_duration_seconds_bucket\{route="([^"]*)",status="200",le="([^"]*)"\} (\d+)/);
    if (!m) continue;
    const variant = m[1] === '/v1/userprofile' ? 'plain' : m[1] === '/v1/userprofile?get_recs' ? 'recs' : null;
    if (variant) out[variant].set(m[2], Number(m[3]));
  }
  return out;
}

// From two bucket snapshots: the reads between them, the share answered within 100 µs, and
// the smallest bucket bound holding 50 % and 99 % of them, in µs.
function serverSummary(before, after) {
  const bounds = [...after.keys()];
  const count = (le) => (after.get(le) ?? 0) - (before.get(le) ?? 0);
  const n = count('+Inf');
  const within = (p) => {
    const b = bounds.find((le) => count(le) >= (p / 100) * n);
    return b === '+Inf' ? null : Math.round(Number(b) * 1e6);
  };
  return { n, 'share<=100us': n ? Math.round((count('0.000100') / n) * 10000) / 10000 : null,
           'p50<=us': within(50), 'p99<=us': within(99) };
}

const plain = [];
const recs = [];
const total = Number(opt.n) + Number(opt.warmup);
let bucketsBefore = null;
for (let i = 0; i < total; ++i) {
  if (i === Number(opt.warmup)) bucketsBefore = await serverBuckets();
  const user = users[Math.floor(random() * users.length)];
  const path = `/v1/userprofile?user_id=${encodeURIComponent(user)}`;
  const recsFirst = i % 2 === 1;
  const a = await get(recsFirst ? path + opt.query : path);
  const b = await get(recsFirst ? path : path + opt.query);
  if (i < Number(opt.warmup)) continue;
  plain.push(recsFirst ? b : a);
  recs.push(recsFirst ? a : b);
}
const bucketsAfter = await serverBuckets();
agent.destroy();
const p = summary(plain);
const q = summary(recs);
const d = (k) => Math.round((q[k] - p[k]) * 10) / 10;
const server = { plain: serverSummary(bucketsBefore.plain, bucketsAfter.plain),
                 recs: serverSummary(bucketsBefore.recs, bucketsAfter.recs) };
console.log(JSON.stringify({ plain: p, recs: q, added: { p50: d('p50'), p90: d('p90'), p99: d('p99') }, server }));
