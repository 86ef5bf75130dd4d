#!/usr/bin/env node
// Turns the raw JSON lines bench/run.sh collected (one per wrk or ingest.mjs run) into the
// result tables, as Markdown. Figures are medians over the runs; "range" is min..max. Lines
// of the other benchmark and runs marked "discarded" (repeated because the machine was busy)
// are skipped, so bench/results/history.jsonl can be fed in directly; --stamp S (repeatable)
// keeps only the runs of those bench/run.sh invocations.
//   node bench/summarize.mjs reads  [--stamp S]... FILE.jsonl...
//   node bench/summarize.mjs ingest [--stamp S]... FILE.jsonl...
//   node bench/summarize.mjs recs_read [--stamp S]... FILE.jsonl...   (bench/recs_read.sh)
import fs from 'node:fs';

const [kind, ...rest] = process.argv.slice(2);
const stamps = [];
const files = [];
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--stamp') stamps.push(rest[++i]);
  else files.push(rest[i]);
}
const rows = files
  .flatMap((file) => fs.readFileSync(file, 'utf8').split('\n'))
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l))
  .filter((r) => r.bench === kind && !r.discarded)
  .filter((r) => stamps.length === 0 || stamps.includes(r.stamp));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const cpu = (rs) =>
  ['server_cpu_pct', 'client_cpu_pct', 'others_cpu_pct'].map((k) => fmt(median(rs.map((r) => r[k])), 0)).join(' / ');
const range = (xs, f) => (xs.length > 1 ? `${f(Math.min(...xs))}..${f(Math.max(...xs))}` : '');

function readsTable(rows) {
  const conns = [...new Set(rows.map((r) => r.conns))].sort((a, b) => a - b);
  const out = [];
  out.push(
    '| conns | server | runs | requests/s (median) | range | p50 ms | p99 ms | CPU % server/client/others | bytes/response | errors |',
  );
  out.push('|---:|---|---:|---:|---|---:|---:|---|---:|---:|');
  const ratios = [];
  for (const c of conns) {
    const med = {};
    for (const server of ['profiled', 'profiled-defs', 'profiled-rec', 'nginx']) {
      const rs = rows.filter((r) => r.conns === c && r.server === server);
      if (!rs.length) continue;
      const rps = rs.map((r) => r.rps);
      med[server] = median(rps);
      const errors = rs.reduce(
        (s, r) =>
          s + r.errors_connect + r.errors_read + r.errors_write + r.errors_status + r.errors_timeout,
        0,
      );
      out.push(
        `| ${c} | ${server} | ${rs.length} | ${fmtInt(med[server])} | ${range(rps, fmtInt)} | ` +
          `${fmt(median(rs.map((r) => r.p50_ms)), 3)} | ${fmt(median(rs.map((r) => r.p99_ms)), 3)} | ` +
          `${cpu(rs)} | ` +
          `${fmt(median(rs.map((r) => r.bytes_per_response)), 1)} | ${errors} |`,
      );
    }
    // per-run ratios pair run i of one server with run i of the other (they ran back to back)
    // and the same per second of the server's CPU (requests/s ÷ its CPU share), which a
    // busy machine distorts less when the servers got different shares of their core
    const perCpu = (r) => r.rps / (r.server_cpu_pct / 100);
    const paired = (num, den, f = (r) => r.rps) =>
      rows
        .filter((r) => r.conns === c && r.server === num)
        .map((p) => [
          p,
          rows.find((n) => n.conns === c && n.server === den && n.run === p.run && n.stamp === p.stamp),
        ])
        .filter(([, n]) => n)
        .map(([p, n]) => f(p) / f(n));
    for (const [num, den] of [
      ['profiled', 'nginx'],
      ['profiled-defs', 'profiled'],
      ['profiled-defs', 'nginx'],
      ['profiled-rec', 'profiled'],
      ['profiled-rec', 'nginx'],
    ]) {
      if (med[num] !== undefined && med[den] !== undefined) {
        ratios.push([c, `${num}/${den}`, med[num] / med[den], paired(num, den), paired(num, den, perCpu)]);
      }
    }
  }
  out.push('');
  out.push(
    '| conns | ratio | requests/s (ratio of medians) | per-run ratios | per server CPU-second: median of the per-run ratios (per run) |',
  );
  out.push('|---:|---|---:|---|---|');
  for (const [c, name, r, pairs, cpuPairs] of ratios) {
    out.push(
      `| ${c} | ${name} | ${fmt(r)} | ${pairs.map((x) => fmt(x)).join(', ')} | ` +
        `${fmt(median(cpuPairs))} (${cpuPairs.map((x) => fmt(x)).join(', ')}) |`,
    );
  }
  return out.join('\n');
}

// one row per durability x client setting (connections, batch, measured seconds)
function ingest() {
  const key = (r) => [r.durability, r.conns, r.batch, r.seconds].join(' ');
  const groups = [...new Set(rows.map(key))];
  const out = [];
  out.push(
    '| durability | conns | batch | seconds | runs | events/s (median) | range | requests/s | p50 ms | p99 ms | CPU % server/client/others | failed |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|');
  for (const g of groups) {
    const rs = rows.filter((r) => key(r) === g);
    const eps = rs.map((r) => r.events_per_s);
    out.push(
      `| ${rs[0].durability} | ${rs[0].conns} | ${rs[0].batch} | ${rs[0].seconds} | ${rs.length} | ${fmtInt(median(eps))} | ${range(eps, fmtInt)} | ` +
        `${fmtInt(median(rs.map((r) => r.requests_per_s)))} | ${fmt(median(rs.map((r) => r.p50_ms)))} | ` +
        `${fmt(median(rs.map((r) => r.p99_ms)))} | ${cpu(rs)} | ` +
        `${rs.reduce((s, r) => s + r.failed, 0)} |`,
    );
  }
  return out.join('\n');
}

// one table per store size, so runs against different stores are never pooled
function reads() {
  const sizes = [...new Set(rows.map((r) => r.users))].sort((a, b) => a - b);
  if (sizes.length <= 1) return readsTable(rows);
  return sizes
    .map((u) => `**${u} users**\n\n${readsTable(rows.filter((r) => r.users === u))}`)
    .join('\n\n');
}

// bench/recs_read.sh: per user set and connection count, the variants' medians, then the
// rounds paired (plain and recs of a round ran back to back): what get_recs adds
function recsRead() {
  const out = [];
  const us = (ms) => (Number.isFinite(ms) ? Math.round(ms * 1000).toLocaleString('en-US') : '-');
  const threads = (rs) =>
    [0, 1, 2].map((i) => fmt(median(rs.map((r) => r.server_threads_cpu_pct[i])), 0)).join(' / ');
  // the server's CPU time per request (all its threads), in µs
  const cpuPerRead = (rs) =>
    fmt(median(rs.map((r) => (r.server_cpu_pct / 100) * (r.duration_us / r.requests))), 1);
  const errorsOf = (r) => r.errors_connect + r.errors_read + r.errors_write + r.errors_status + r.errors_timeout;
  const sets = [...new Set(rows.filter((r) => r.variant !== 'nginx').map((r) => r.set))];
  const conns = [...new Set(rows.map((r) => r.conns))].sort((a, b) => a - b);
  const modes = [...new Set(rows.map((r) => r.time_mode))];
  out.push(`times: ${modes.join(', ')}; latencies in µs (wrk's histogram); CPU in % of one core`);
  out.push('');
  out.push(
    '| set | conns | variant | runs | requests/s (median) | range | p50 | p99 | p99.9 | server CPU (busiest thread / 2nd / rest) | server CPU µs per read | client / others | exposures per read | bytes/response | errors |',
  );
  out.push('|---|---:|---|---:|---:|---|---:|---:|---:|---|---:|---|---:|---:|---:|');
  for (const c of conns) {
    for (const set of sets) {
      for (const variant of ['plain', 'recs']) {
        const rs = rows.filter((r) => r.conns === c && r.set === set && r.variant === variant);
        if (!rs.length) continue;
        const rps = rs.map((r) => r.rps);
        const exp = variant === 'recs' ? fmt(median(rs.map((r) => r.exposures / r.requests)), 3) : '';
        out.push(
          `| ${set} | ${c} | ${variant} | ${rs.length} | ${fmtInt(median(rps))} | ${range(rps, fmtInt)} | ` +
            `${us(median(rs.map((r) => r.p50_ms)))} | ${us(median(rs.map((r) => r.p99_ms)))} | ` +
            `${us(median(rs.map((r) => r.p999_ms)))} | ${fmt(median(rs.map((r) => r.server_cpu_pct)), 0)} (${threads(rs)}) | ${cpuPerRead(rs)} | ` +
            `${fmt(median(rs.map((r) => r.client_cpu_pct)), 0)} / ${fmt(median(rs.map((r) => r.others_cpu_pct)), 0)} | ` +
            `${exp} | ${fmt(median(rs.map((r) => r.bytes_per_response)), 1)} | ${rs.reduce((s, r) => s + errorsOf(r), 0)} |`,
        );
      }
    }
    const ng = rows.filter((r) => r.conns === c && r.variant === 'nginx');
    if (ng.length) {
      const rps = ng.map((r) => r.rps);
      out.push(
        `| nginx | ${c} | static file | ${ng.length} | ${fmtInt(median(rps))} | ${range(rps, fmtInt)} | ` +
          `${us(median(ng.map((r) => r.p50_ms)))} | ${us(median(ng.map((r) => r.p99_ms)))} | ` +
          `${us(median(ng.map((r) => r.p999_ms)))} | ${fmt(median(ng.map((r) => r.server_cpu_pct)), 0)} | ${cpuPerRead(ng)} | ` +
          `${fmt(median(ng.map((r) => r.client_cpu_pct)), 0)} / ${fmt(median(ng.map((r) => r.others_cpu_pct)), 0)} | | ` +
          `${fmt(median(ng.map((r) => r.bytes_per_response)), 1)} | ${ng.reduce((s, r) => s + errorsOf(r), 0)} |`,
      );
    }
  }
  out.push('');
  out.push('What get_recs adds, round by round (recs minus plain of the same round; µs):');
  out.push('');
  out.push('| set | conns | p50 added: median (per round) | p99 added: median (per round) | requests/s recs ÷ plain: median (per round) |');
  out.push('|---|---:|---|---|---|');
  for (const c of conns) {
    for (const set of sets) {
      const pairs = rows
        .filter((r) => r.conns === c && r.set === set && r.variant === 'plain')
        .map((p) => [p, rows.find((q) => q.conns === c && q.set === set && q.variant === 'recs' && q.run === p.run && q.stamp === p.stamp)])
        .filter(([, q]) => q);
      if (!pairs.length) continue;
      const d50 = pairs.map(([p, q]) => q.p50_ms - p.p50_ms);
      const d99 = pairs.map(([p, q]) => q.p99_ms - p.p99_ms);
      const ratio = pairs.map(([p, q]) => q.rps / p.rps);
      out.push(
        `| ${set} | ${c} | **${us(median(d50))}** (${d50.map(us).join(', ')}) | **${us(median(d99))}** (${d99.map(us).join(', ')}) | ` +
          `**${fmt(median(ratio))}** (${ratio.map((x) => fmt(x)).join(', ')}) |`,
      );
    }
  }
  return out.join('\n');
}

if (kind === 'reads') console.log(reads());
else if (kind === 'ingest') console.log(ingest());
else if (kind === 'recs_read') console.log(recsRead());
else {
  console.error('usage: summarize.mjs reads|ingest|recs_read FILE');
  process.exit(2);
}
