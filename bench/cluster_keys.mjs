#!/usr/bin/env node
// What a store on Redis Cluster holds, for bench/cluster.sh: every key of every primary
// (SCAN, binary-safe: keys are arbitrary bytes), grouped by the table letter after the hash
// tag "{<partition>}" (u = user hash, i = identity, d = dedup, ...; keys without a tag are
// grouped by their first bytes), and for up to --sample keys of each group: MEMORY USAGE
// (SAMPLES 0, exact), the stored payload (a hash: bytes of its fields and values; a string:
// its length; a sorted set: bytes of its members) and the field or member count.
// Benchmark tooling only: the product never scans the keyspace.
//
//   node bench/cluster_keys.mjs --nodes 127.0.0.1:P1,127.0.0.1:P2 [--sample 200] [--password X]
//
// Prints one JSON line: {primaries, keys, groups: {letter: {count, type, sampled, memory_mean,
// memory_median, memory_min, memory_max, payload_mean, payload_median, items_mean,
// ttl_example_s, example}}}.
import net from 'node:net';
import { parseArgs } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), { nodes: '', sample: '200', password: '' });
const sampleSize = Number(opt.sample);

// A minimal RESP2 connection: commands are pipelined, replies resolved in order.
class Conn {
  constructor(host, port) {
    this.sock = net.connect({ host, port });
    this.buf = Buffer.alloc(0);
    this.waiting = [];
    this.sock.on('data', (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      for (;;) {
        const r = parse(this.buf, 0);
        if (!r) break;
        this.buf = this.buf.subarray(r.end);
        const w = this.waiting.shift();
        if (r.value instanceof Error) w.reject(r.value);
        else w.resolve(r.value);
      }
    });
    this.ready = new Promise((resolve, reject) => {
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    });
  }
  cmd(...args) {
    const parts = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    this.sock.write(Buffer.concat(parts));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
  close() {
    this.sock.end();
  }
}

// parse(buf, at) -> {value, end} or null when the reply is not complete yet. Bulk strings
// stay Buffers; errors become Error values.
function parse(buf, at) {
  const nl = buf.indexOf('\r\n', at);
  if (nl < 0) return null;
  const head = buf.toString('latin1', at + 1, nl);
  switch (String.fromCharCode(buf[at])) {
    case '+':
      return { value: head, end: nl + 2 };
    case '-':
      return { value: new Error(head), end: nl + 2 };
    case ':':
      return { value: Number(head), end: nl + 2 };
    case '$': {
      const n = Number(head);
      if (n < 0) return { value: null, end: nl + 2 };
      if (buf.length < nl + 2 + n + 2) return null;
      return { value: buf.subarray(nl + 2, nl + 2 + n), end: nl + 2 + n + 2 };
    }
    case '*': {
      const n = Number(head);
      if (n < 0) return { value: null, end: nl + 2 };
      const out = [];
      let end = nl + 2;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, end);
        if (!r) return null;
        out.push(r.value);
        end = r.end;
      }
      return { value: out, end };
    }
    default:
      throw new Error(`bad RESP byte ${buf[at]}`);
  }
}

function group(key) {
  if (key[0] === 0x7b /* { */) {
    const close = key.indexOf(0x7d /* } */);
    const tag = key.toString('latin1', 1, close);
    if (close > 0 && !/^[0-9]+$/.test(tag)) return `{${tag}}`; // e.g. {lease}: not a partition
    if (close > 0 && close + 1 < key.length) return String.fromCharCode(key[close + 1]);
  }
  return `untagged:${key.toString('latin1', 0, 6).replace(/[^\x20-\x7e]/g, '.')}`;
}

function printable(key) {
  return key.toString('latin1').replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

const groups = new Map(); // letter -> {count, samples: [{conn, key}]}
const conns = [];
let total = 0;
for (const node of opt.nodes.split(',').filter(Boolean)) {
  const [host, port] = node.split(':');
  const c = new Conn(host, Number(port));
  await c.ready;
  if (opt.password) await c.cmd('AUTH', opt.password);
  const repl = (await c.cmd('INFO', 'replication')).toString();
  if (!/^role:master/m.test(repl)) {
    c.close();
    continue;
  }
  conns.push(c);
  let cursor = '0';
  do {
    const [next, keys] = await c.cmd('SCAN', cursor, 'COUNT', 1000);
    cursor = next.toString();
    for (const k of keys) {
      total++;
      const g = group(k);
      let e = groups.get(g);
      if (!e) groups.set(g, (e = { count: 0, samples: [] }));
      e.count++;
      if (e.samples.length < sampleSize) e.samples.push({ conn: c, key: k });
    }
  } while (cursor !== '0');
}

const out = {};
for (const [g, e] of [...groups].sort((a, b) => b[1].count - a[1].count)) {
  const mem = [];
  const payload = [];
  const items = [];
  let type = null;
  let ttl = null;
  for (const { conn, key } of e.samples) {
    const t = String(await conn.cmd('TYPE', key));
    if (t === 'none') continue; // expired or deleted meanwhile
    type ??= t;
    if (ttl === null) ttl = await conn.cmd('TTL', key);
    mem.push(await conn.cmd('MEMORY', 'USAGE', key, 'SAMPLES', 0));
    if (t === 'hash') {
      const all = await conn.cmd('HGETALL', key);
      payload.push(all.reduce((s, b) => s + b.length, 0));
      items.push(all.length / 2);
    } else if (t === 'string') {
      payload.push(await conn.cmd('STRLEN', key));
      items.push(1);
    } else if (t === 'zset') {
      const members = await conn.cmd('ZRANGE', key, 0, -1);
      payload.push(members.reduce((s, b) => s + b.length, 0));
      items.push(members.length);
    }
  }
  out[g] = {
    count: e.count,
    type,
    sampled: mem.length,
    memory_mean: mean(mem) && Math.round(mean(mem)),
    memory_median: median(mem),
    memory_min: mem.length ? Math.min(...mem) : null,
    memory_max: mem.length ? Math.max(...mem) : null,
    payload_mean: payload.length ? Math.round(mean(payload)) : null,
    payload_median: median(payload),
    items_mean: items.length ? Number(mean(items).toFixed(2)) : null,
    ttl_example_s: ttl,
    example: e.samples.length ? printable(e.samples[0].key) : null,
  };
}
for (const c of conns) c.close();
console.log(JSON.stringify({ primaries: conns.length, keys: total, groups: out }));
