#!/usr/bin/env node
// Reference for the durable-ingestion figure: how many small appends + fdatasync() per
// second the disk under `--dir` sustains from one thread (what a log with no group commit
// could do). Prints one JSON line.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, percentile } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), { dir: '.', seconds: '3', bytes: '4096' });
const file = path.join(opt.dir, `fsync-probe-${process.pid}.tmp`);
const block = Buffer.alloc(Number(opt.bytes), 120);
const fd = fs.openSync(file, 'w');
const lat = [];
const end = Date.now() + Number(opt.seconds) * 1000;
try {
  while (Date.now() < end) {
    const t = process.hrtime.bigint();
    fs.writeSync(fd, block);
    fs.fdatasyncSync(fd);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
} finally {
  fs.closeSync(fd);
  fs.unlinkSync(file);
}
lat.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    fsyncs_per_s: Math.round(lat.length / Number(opt.seconds)),
    p50_ms: Number(percentile(lat, 50).toFixed(3)),
    p99_ms: Number(percentile(lat, 99).toFixed(3)),
  }),
);
