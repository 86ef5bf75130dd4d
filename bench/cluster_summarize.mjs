#!/usr/bin/env node
// The tables of bench/cluster.sh, in Markdown, from its raw lines (bench/results/cluster-*.jsonl):
// medians over the rounds, ranges (min..max), ratios of medians and per-round ratios; then the
// Redis work per read and per ingested event and the memory per user. Runs marked "discarded"
// (repeated because the machine was busy) are left out.
//   node bench/cluster_summarize.mjs FILE.jsonl...
import fs from 'node:fs';

const rows = process.argv
  .slice(2)
  .flatMap((f) => fs.readFileSync(f, 'utf8').split('\n'))
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l))
  .filter((r) => r.bench === 'cluster' && !r.discarded);

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const fix = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const range = (xs) => (xs.length > 1 ? `${int(Math.min(...xs))}..${int(Math.max(...xs))}` : '');
const out = [];
const say = (s = '') => out.push(s);

// ------------------------------------------------------------------------------- load
const loads = rows.filter((r) => r.kind === 'load');
if (loads.length) {
  say('### Load (POST /batch, bench/load_users.mjs)');
  say();
  say('| store | users | events per user | connections | seconds | users/s | failed batches |');
  say('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of loads) {
    say(`| ${r.target} | ${int(r.users)} | ${r.events_per_user} | ${r.conns} | ${fix(r.seconds, 1)} | ${int(r.users_per_s)} | ${r.failed_batches} |`);
  }
  const [a, b] = ['profiled-redis', 'profiled-rocksdb'].map((t) => loads.find((r) => r.target === t));
  if (a && b) say(`\nLoad rate, cluster ÷ RocksDB: **${fix(a.users_per_s / b.users_per_s, 3)}**`);
  say();
}
const sample = rows.find((r) => r.kind === 'sample');
if (sample) {
  say(
    `Sample read of ${sample.user}: HTTP ${sample.redis_status} (${sample.redis_bytes} bytes) on the cluster, ` +
      `HTTP ${sample.rocksdb_status} (${sample.rocksdb_bytes} bytes) on RocksDB; same body: ${sample.same_body}.`,
  );
  say();
}

// ------------------------------------------------------------------------------ reads
const reads = rows.filter((r) => r.kind === 'read' && r.round > 0);
const TARGETS = ['profiled-redis', 'redis-get', 'profiled-rocksdb', 'redis-set'];
const LABEL = {
  'profiled-redis': 'profiled on the cluster',
  'redis-get': 'redis-benchmark GET',
  'profiled-rocksdb': 'profiled on RocksDB',
  'redis-set': 'redis-benchmark SET',
};
if (reads.length) {
  const conns = [...new Set(reads.map((r) => r.conns))].sort((a, b) => a - b);
  const rounds = Math.max(...reads.map((r) => r.round));
  say(`### Reads: requests/s, medians of ${rounds} rounds (random user per request; redis-benchmark: random key of ${reads.find((r) => r.value_bytes)?.value_bytes ?? '?'} bytes)`);
  say();
  say('| conns | profiled on the cluster | redis-benchmark GET | profiled on RocksDB | redis-benchmark SET | cluster ÷ GET (bar ≥ 0.5) | cluster ÷ RocksDB |');
  say('|---:|---:|---:|---:|---:|---:|---:|');
  const med = {};
  for (const c of conns) {
    for (const t of TARGETS) med[`${t}-${c}`] = median(reads.filter((r) => r.conns === c && r.target === t).map((r) => r.rps));
    const m = (t) => med[`${t}-${c}`];
    say(
      `| ${c} | ${int(m('profiled-redis'))} | ${int(m('redis-get'))} | ${int(m('profiled-rocksdb'))} | ${int(m('redis-set'))} | ` +
        `**${fix(m('profiled-redis') / m('redis-get'), 3)}** | ${fix(m('profiled-redis') / m('profiled-rocksdb'), 3)} |`,
    );
  }
  say();
  say('Per round (same round, same connection count):');
  say();
  say('| conns | cluster ÷ GET per round | cluster ÷ RocksDB per round |');
  say('|---:|---|---|');
  for (const c of conns) {
    const per = (den) => {
      const xs = [];
      for (let r = 1; r <= rounds; r++) {
        const a = reads.find((x) => x.conns === c && x.round === r && x.target === 'profiled-redis');
        const b = reads.find((x) => x.conns === c && x.round === r && x.target === den);
        if (a && b) xs.push(fix(a.rps / b.rps, 3));
      }
      return xs.join(', ');
    };
    say(`| ${c} | ${per('redis-get')} | ${per('profiled-rocksdb')} |`);
  }
  say();
  say('Each run (medians; CPU in % of one core: profiled / the six Redis servers / the client / the rest of the machine):');
  say();
  say('| conns | target | runs | requests/s | range | p50 ms | p99 ms | CPU % profiled / Redis / client / others | errors |');
  say('|---:|---|---:|---:|---|---:|---:|---|---:|');
  for (const c of conns) {
    for (const t of TARGETS) {
      const rs = reads.filter((r) => r.conns === c && r.target === t);
      if (!rs.length) continue;
      const cpu = ['profiled_cpu_pct', 'redis_cpu_pct', 'client_cpu_pct', 'others_cpu_pct']
        .map((k) => fix(median(rs.map((r) => r[k])), 0))
        .join(' / ');
      const errors = rs.reduce(
        (s, r) => s + (r.errors_connect ?? 0) + (r.errors_read ?? 0) + (r.errors_write ?? 0) + (r.errors_status ?? 0) + (r.errors_timeout ?? 0),
        0,
      );
      say(
        `| ${c} | ${LABEL[t]} | ${rs.length} | ${int(median(rs.map((r) => r.rps)))} | ${range(rs.map((r) => r.rps))} | ` +
          `${fix(median(rs.map((r) => r.p50_ms)), 3)} | ${fix(median(rs.map((r) => r.p99_ms)), 3)} | ${cpu} | ` +
          `${t.startsWith('redis') ? 'n/a' : errors} |`,
      );
    }
  }
  say();
}

// ----------------------------------------------------------------------------- ingest
const ingests = rows.filter((r) => r.kind === 'ingest');
if (ingests.length) {
  say(`### Ingestion: /2/httpapi, 100-event bodies (10 new users each), ${ingests[0].conns} connections, medians of ${Math.max(...ingests.map((r) => r.round))} rounds`);
  say();
  say('| store | runs | window s | events/s | range | p50 request ms | p99 request ms | failed requests | CPU % profiled / client / others incl. Redis (window) | Redis CPU % (whole run) |');
  say('|---|---:|---:|---:|---|---:|---:|---:|---|---:|');
  const med = {};
  for (const t of ['profiled-redis', 'profiled-rocksdb']) {
    const rs = ingests.filter((r) => r.target === t);
    if (!rs.length) continue;
    med[t] = median(rs.map((r) => r.events_per_s));
    const cpu = ['server_cpu_pct', 'client_cpu_pct', 'others_cpu_pct'].map((k) => fix(median(rs.map((r) => r[k])), 0)).join(' / ');
    say(
      `| ${t === 'profiled-redis' ? 'cluster' : 'RocksDB, fsync'} | ${rs.length} | ${rs[0].seconds} | ${int(med[t])} | ${range(rs.map((r) => r.events_per_s))} | ` +
        `${fix(median(rs.map((r) => r.p50_ms)), 1)} | ${fix(median(rs.map((r) => r.p99_ms)), 1)} | ${rs.reduce((s, r) => s + r.failed, 0)} | ${cpu} | ` +
        `${fix(median(rs.map((r) => r.whole?.redis_cpu_pct)), 0)} |`,
    );
  }
  if (med['profiled-redis'] && med['profiled-rocksdb']) {
    const per = [];
    for (const r of [...new Set(ingests.map((x) => x.round))].sort()) {
      const a = ingests.find((x) => x.round === r && x.target === 'profiled-redis');
      const b = ingests.find((x) => x.round === r && x.target === 'profiled-rocksdb');
      if (a && b) per.push(fix(a.events_per_s / b.events_per_s, 4));
    }
    say();
    say(`Cluster ÷ RocksDB events/s: **${fix(med['profiled-redis'] / med['profiled-rocksdb'], 4)}** (per round: ${per.join(', ')})`);
  }
  say();
}

// ------------------------------------------------------------------------ Redis work
const opsRows = ['ops_read', 'ops_ingest'].map((k) => rows.find((r) => r.kind === k)).filter(Boolean);
if (opsRows.length) {
  const idle = rows.find((r) => r.kind === 'idle');
  say('### Redis work per read and per ingested event (sums over the 3 primaries)');
  say();
  say('| per | batch | seconds | commands (commandstats) | sent by profiled (MONITOR) | run inside scripts (MONITOR) | bytes profiled → Redis | bytes Redis → profiled | replication bytes to replicas |');
  say('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of opsRows) {
    const cmds = Object.entries(r.delta).filter(([k]) => k.startsWith('cmd.')).reduce((s, [, v]) => s + v, 0);
    const sum = (o) => Object.values(o || {}).reduce((s, v) => s + v, 0);
    const what = r.kind === 'ops_read' ? 'read' : 'event';
    say(
      `| ${what} | ${int(r.count)} ${r.kind === 'ops_read' ? 'reads' : 'events'} | ${fix(r.seconds, 1)} | ${fix(cmds / r.count, 2)} | ` +
        `${fix(sum(r.monitor.client) / r.count, 2)} | ${fix(sum(r.monitor.script) / r.count, 2)} | ` +
        `${fix(r.delta.net_in / r.count, 0)} | ${fix(r.delta.net_out / r.count, 0)} | ${fix((r.delta.repl_out ?? 0) / r.count, 0)} |`,
    );
  }
  say();
  for (const r of opsRows) {
    const fmtCounts = (o) =>
      Object.entries(o || {})
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k.replace(/^cmd\./, '')} ${fix(v / r.count, 3)}`)
        .join(', ');
    const label = r.kind === 'ops_read' ? 'Per read' : 'Per event';
    say(`- ${label}, commandstats by command: ${fmtCounts(Object.fromEntries(Object.entries(r.delta).filter(([k]) => k.startsWith('cmd.'))))}`);
    say(`- ${label}, sent by profiled (MONITOR): ${fmtCounts(r.monitor.client)}`);
    say(`- ${label}, inside scripts (MONITOR): ${fmtCounts(r.monitor.script) || 'none'}`);
    say(`- client result: ${JSON.stringify(r.client)}`);
  }
  if (idle) {
    const cmds = Object.entries(idle.delta).filter(([k]) => k.startsWith('cmd.'));
    say(
      `- idle background over ${idle.seconds} s (subtracted above, pro rata): ` +
        (cmds.map(([k, v]) => `${k.slice(4)} ${v}`).join(', ') || 'no commands') +
        `; ${idle.delta.net_in ?? 0} bytes in, ${idle.delta.net_out ?? 0} out, ${idle.delta.repl_out ?? 0} to replicas`,
    );
  }
  say();
}

// ---------------------------------------------------------------------------- memory
const keys = rows.find((r) => r.kind === 'keys');
const loadDelta = rows.find((r) => r.kind === 'load_delta');
if (keys || loadDelta) {
  say('### Memory per user (after the load; primaries only, the replicas hold as much again)');
  say();
  if (loadDelta) {
    const u = loadDelta.users;
    say(
      `- used_memory of the 3 primaries: ${int(loadDelta.empty_used_memory)} bytes before the load, +${int(loadDelta.delta.used_memory)} over it: ` +
        `**${int(loadDelta.delta.used_memory / u)} bytes per user**; keys +${int(loadDelta.delta.keys)} (${fix(loadDelta.delta.keys / u, 2)} per user)`,
    );
    const mem = Object.entries(loadDelta.delta).filter(([k]) => k.startsWith('mem.'));
    if (mem.length) {
      say(
        `- of which (MEMORY STATS, change over the load ÷ users): ` +
          mem
            .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
            .map(([k, v]) => `${k.slice(4)} ${int(v / u)}`)
            .join(', ') +
          ' (dataset.bytes = used_memory − overhead.total; the replication backlog grows to its 1 MB per primary whatever the data)',
      );
    }
  }
  if (keys) {
    say(`- ${int(keys.keys)} keys on ${keys.primaries} primaries right after the load, by table (the letter after the hash tag):`);
    say();
    say('| group | Redis type | keys | per user | MEMORY USAGE mean | median | min..max | ≈ bytes per user (mean × keys ÷ users) | payload bytes mean | fields/members mean | TTL of one (s) | example |');
    say('|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|');
    let perUser = 0;
    for (const [g, e] of Object.entries(keys.groups)) {
      const b = (e.memory_mean * e.count) / keys.users;
      if (Number.isFinite(b)) perUser += b;
      say(
        `| ${g} | ${e.type} | ${int(e.count)} | ${fix(e.count / keys.users, 3)} | ${int(e.memory_mean)} | ${int(e.memory_median)} | ` +
          `${int(e.memory_min)}..${int(e.memory_max)} | ${int(b)} | ${int(e.payload_mean)} | ${fix(e.items_mean, 2)} | ${e.ttl_example_s} | \`${e.example}\` |`,
      );
    }
    say(`| all | | ${int(keys.keys)} | ${fix(keys.keys / keys.users, 3)} | | | | **${int(perUser)}** | | | | |`);
    say();
    say(`(MEMORY USAGE … SAMPLES 0 of up to ${Math.max(...Object.values(keys.groups).map((e) => e.sampled))} keys per group.)`);
  }
  say();
}
console.log(out.join('\n'));
