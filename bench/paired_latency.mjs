#!/usr/bin/env node
// What a query suffix adds to a profile read's latency, measured in pairs: one keep-alive
// connection, requests one at a time, alternating a plain read and the same user's read with
// --query (which goes first alternates too), each timed on the client (process.hrtime).
// Both variants see the same machine at the same moments, so the difference of their
// percentiles is the suffix's cost with the machine's noise shared between them.
// Prints one JSON object: per variant n, p50, p90, p99, p99.9 and max in microseconds, and
// "added" = recs minus plain at p50, p90 and p99. Used by bench/recs_read.sh (RECS_PAIRED).
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

const plain = [];
const recs = [];
const total = Number(opt.n) + Number(opt.warmup);
for (let i = 0; i < total; ++i) {
  const user = users[Math.floor(random() * users.length)];
  const path = `/v1/userprofile?user_id=${encodeURIComponent(user)}`;
  const recsFirst = i % 2 === 1;
  const a = await get(recsFirst ? path + opt.query : path);
  const b = await get(recsFirst ? path : path + opt.query);
  if (i < Number(opt.warmup)) continue;
  plain.push(recsFirst ? b : a);
  recs.push(recsFirst ? a : b);
}
agent.destroy();
const p = summary(plain);
const q = summary(recs);
const d = (k) => Math.round((q[k] - p[k]) * 10) / 10;
console.log(JSON.stringify({ plain: p, recs: q, added: { p50: d('p50'), p90: d('p90'), p99: d('p99') } }));
