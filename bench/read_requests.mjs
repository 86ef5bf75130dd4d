#!/usr/bin/env node
// Sends exactly --n profile reads (random users among --users, fixed seed, or every user
// in order with --seq) over --conns keep-alive connections, and checks each answer is 200.
// Used by bench/callgrind_reads.sh, which needs a request count, not a duration.
// --users-file F reads the user ids of F (one a line) instead of u%07d below --users;
// --query Q appends Q (e.g. "&get_recs=true&rec_id=r1") to every request. The first 5
// answers that are not 200 are printed to stderr (status, then the body), as evidence.
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs, prng } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  url: 'http://127.0.0.1:8080',
  secret: 'bench-secret',
  users: '50000',
  n: '10000',
  conns: '8',
  seq: '0',
  seed: '1',
  'users-file': '',
  query: '',
});
const url = new URL(opt.url);
const list = opt['users-file']
  ? fs.readFileSync(opt['users-file'], 'utf8').split('\n').filter((l) => l)
  : null;
const users = list ? list.length : Number(opt.users);
const total = Number(opt.n);
const random = prng(Number(opt.seed));
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(opt.conns) });
let next = 0;
let failed = 0;

function get(path) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: url.hostname, port: url.port, path, agent,
             headers: { Authorization: `Api-Key ${opt.secret}` } }, (res) => {
        const chunks = [];
        if (res.statusCode === 200) res.resume();
        else res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200 && failed < 5) {
            process.stderr.write(`GET ${path}: HTTP ${res.statusCode} ${Buffer.concat(chunks).toString()}\n`);
          }
          resolve(res.statusCode);
        });
      })
      .on('error', reject);
  });
}

async function worker() {
  while (next < total) {
    const i = next++;
    const user = opt.seq === '1' ? i % users : Math.floor(random() * users);
    const id = list ? encodeURIComponent(list[user]) : `u${String(user).padStart(7, '0')}`;
    const status = await get(`/v1/userprofile?user_id=${id}${opt.query}`);
    if (status !== 200) failed++;
  }
}

await Promise.all(Array.from({ length: Number(opt.conns) }, worker));
agent.destroy();
console.log(JSON.stringify({ requests: total, failed }));
process.exit(failed ? 1 : 0);
