// `profiled eval` (docs/RECS.md): the offline evaluation of the recommendation models on a
// MovieLens-shaped ratings file, in both formats, with bad flags and files refused. The
// ratings are generated here (two taste groups of movies, plus a few movies everyone rates
// highly), so no MovieLens file is needed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, makeTempDir, runBinary } from './harness.js';

const KEYS = ['model', 'protocol', 'users', 'items', 'recall@10', 'ndcg@10', 'recall@20', 'ndcg@20',
  'coverage@10', 'train_seconds'];

// 120 users; user u likes group u % 2 (movies 100..119 or 200..219), rates 80 % of them, 4 or 5
// mostly, 1 or 2 sometimes; everyone rates movies 1..3. A small linear congruential generator makes
// it the same file every run.
function ratings() {
  let state = 12345;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const rows = [];
  for (let u = 1; u <= 120; u++) {
    const base = u % 2 === 0 ? 100 : 200;
    for (let m = 0; m < 20; m++) {
      if (next() < 0.8) rows.push([u, base + m, next() < 0.85 ? 4 + Math.floor(next() * 2) : 1 + Math.floor(next() * 2)]);
    }
    for (let m = 1; m <= 3; m++) if (next() < 0.4) rows.push([u, m, 5]);
  }
  return rows.map(([u, m, r], i) => [u, m, r, 1000000000 + i]);
}

// Users with 5 or more ratings of 4 or more: those the holdout protocol evaluates.
function eligibleUsers() {
  const positives = new Map();
  for (const [u, , r] of ratings()) if (r >= 4) positives.set(u, (positives.get(u) || 0) + 1);
  return [...positives.values()].filter((n) => n >= 5).length;
}

function writeFiles(dir) {
  const rows = ratings();
  const csv = path.join(dir, 'ratings.csv');
  fs.writeFileSync(csv, 'userId,movieId,rating,timestamp\n' + rows.map((r) => `${r[0]},${r[1]},${r[2].toFixed(1)},${r[3]}`).join('\n') + '\n');
  const tsv = path.join(dir, 'u.data');
  fs.writeFileSync(tsv, rows.map((r) => r.join('\t')).join('\n') + '\n');
  return { csv, tsv };
}

function evalLines(args) {
  const result = runBinary(['eval', ...args], { timeoutMs: 60000 });
  assert.equal(result.code, 0, `exit code; stderr: ${result.stderr}`);
  return result.stdout.trim().split('\n').map((line) => JSON.parse(line));
}

function expectFailure(args, pattern) {
  const result = runBinary(['eval', ...args]);
  assert.notEqual(result.code, 0, `should fail: eval ${args.join(' ')}`);
  assert.equal(result.stdout, '', 'nothing on stdout');
  assert.match(result.stderr, pattern);
}

describe('profiled eval', () => {
  it('prints one JSON object per run, with the documented keys in order, for both formats', () => {
    const dir = makeTempDir('profiled-e2e-eval-');
    try {
      const { csv, tsv } = writeFiles(dir);
      const fromCsv = evalLines(['--ratings', csv, '--format', 'movielens-csv', '--model', 'ease,itemknn,popular',
        '--protocol', 'holdout', '--k', '10,20', '--seed', '3', '--param', 'lambda=50']);
      const fromTsv = evalLines(['--ratings', tsv, '--format', 'movielens-tsv', '--model', 'ease,itemknn,popular',
        '--protocol', 'holdout', '--k', '10,20', '--seed', '3', '--param', 'lambda=50']);
      assert.equal(fromCsv.length, 3);
      for (const [i, line] of fromCsv.entries()) {
        assert.deepEqual(Object.keys(line), KEYS);
        assert.equal(line.model, ['ease', 'itemknn', 'popular'][i]);
        assert.equal(line.protocol, 'holdout');
        assert.equal(line.users, eligibleUsers());
        assert.equal(line.items, 43);  // 40 group movies and 3 shared ones, all rated 4 or more
        for (const k of KEYS.slice(4)) assert.ok(line[k] >= 0 && (k === 'train_seconds' || line[k] <= 1), `${k}=${line[k]}`);
        // The same ratings in the other format give the same split and the same figures.
        const { train_seconds: a, ...restCsv } = line;
        const { train_seconds: b, ...restTsv } = fromTsv[i];
        assert.deepEqual(restTsv, restCsv);
      }
      // The planted taste groups are found: both item models beat popularity.
      assert.ok(fromCsv[0]['ndcg@10'] > fromCsv[2]['ndcg@10'], JSON.stringify(fromCsv));
      assert.ok(fromCsv[1]['ndcg@10'] > fromCsv[2]['ndcg@10'], JSON.stringify(fromCsv));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the strong protocol evaluates a fifth of the users, and the same seed gives the same figures', () => {
    const dir = makeTempDir('profiled-e2e-eval-');
    try {
      const { csv } = writeFiles(dir);
      const args = ['--ratings', csv, '--format', 'movielens-csv', '--model', 'itemknn', '--protocol', 'strong', '--seed', '8'];
      const [first] = evalLines(args);
      const [second] = evalLines(args);
      assert.deepEqual(Object.keys(first), KEYS);
      assert.equal(first.protocol, 'strong');
      assert.equal(first.users, Math.floor(eligibleUsers() / 5));
      assert.equal(first['ndcg@10'], second['ndcg@10']);
      assert.equal(first['recall@20'], second['recall@20']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--dump-split writes the split and the ranking for bench/ease_reference.py', () => {
    const dir = makeTempDir('profiled-e2e-eval-');
    try {
      const { csv } = writeFiles(dir);
      const out = path.join(dir, 'split');
      const [line] = evalLines(['--ratings', csv, '--format', 'movielens-csv', '--model', 'popular', '--protocol', 'holdout',
        '--seed', '1', '--dump-split', out]);
      for (const f of ['train.tsv', 'history.tsv', 'held_out.tsv', 'split.json', 'ranking-popular.tsv']) {
        assert.ok(fs.existsSync(path.join(out, f)), f);
      }
      const meta = JSON.parse(fs.readFileSync(path.join(out, 'split.json'), 'utf8'));
      assert.deepEqual(meta, { protocol: 'holdout', seed: 1, train_rows: 120, items: line.items, users: line.users });
      const ranking = fs.readFileSync(path.join(out, 'ranking-popular.tsv'), 'utf8').trim().split('\n');
      assert.equal(ranking.length, line.users * 20);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--model evidence is plain EASE with its defaults, and --select chooses on its own folds', () => {
    const dir = makeTempDir('profiled-e2e-eval-');
    try {
      const { csv } = writeFiles(dir);
      const common = ['--ratings', csv, '--format', 'movielens-csv', '--protocol', 'holdout,strong', '--seed', '2'];
      const ease = evalLines([...common, '--model', 'ease']);
      const evidence = evalLines([...common, '--model', 'evidence']);
      assert.equal(evidence.length, 2);
      for (let i = 0; i < 2; i++) {
        assert.deepEqual(Object.keys(evidence[i]), KEYS);
        assert.equal(evidence[i].model, 'evidence');
        for (const key of KEYS.slice(1, -1)) assert.equal(evidence[i][key], ease[i][key], key);
      }
      const selected = evalLines([...common, '--model', 'evidence', '--select', '--select-folds', '2',
        '--select-share', '0.2', '--param', 'low_weight=0,0.5', '--param', 'rating_weight=0.5',
        '--param', 'ials_weight=0,0.5', '--param', 'factors=8']);
      assert.equal(selected.length, 2);
      for (const line of selected) {
        assert.deepEqual(Object.keys(line), [...KEYS, 'params', 'candidates', 'validation_users', 'validation_ndcg@10']);
        assert.equal(line.candidates, 4);
        assert.ok([0, 0.5].includes(line.params.low_weight), JSON.stringify(line.params));
        assert.ok([0, 0.5].includes(line.params.ials_weight), JSON.stringify(line.params));
        assert.ok(line.validation_users > 0 && line['validation_ndcg@10'] > 0);
      }
      // The holdout folds hold out ⌊0.2·n⌋ of each training row's n positives, so the rows with
      // n ≥ 5 are evaluated, in each of the 2 folds; a user with p ≥ 5 positives trains on p − ⌊p/5⌋.
      const positives = new Map();
      for (const [u, , r] of ratings()) if (r >= 4) positives.set(u, (positives.get(u) || 0) + 1);
      const rows = [...positives.values()].map((p) => (p >= 5 ? p - Math.floor(p / 5) : p));
      assert.equal(selected[0].validation_users, 2 * rows.filter((n) => n >= 5).length);
      const base = ['--ratings', csv, '--format', 'movielens-csv', '--protocol', 'holdout'];
      expectFailure([...base, '--model', 'evidence,ease'], /--model evidence is evaluated alone/);
      expectFailure([...base, '--model', 'ease', '--select', '--select-share', '0.1'], /--select-share needs --model evidence --select/);
      expectFailure([...base, '--model', 'evidence', '--select', '--select-share', '0.7'], /--select-share must be in \(0, 0.5\]/);
      expectFailure([...base, '--model', 'evidence', '--select', '--select-share', '0'], /--select-share must be in \(0, 0.5\]/);
      expectFailure([...base, '--model', 'evidence', '--min-rating', '-1e300'], /--min-rating must be a number in/);
      expectFailure([...base, '--model', 'evidence', '--param', 'lambda=1e-300'], /lambda .* is too small for the inputs' weights/);
      expectFailure([...base, '--model', 'evidence', '--param', 'ease_lambda=3'], /model evidence has no parameter "ease_lambda"/);
      expectFailure([...base, '--model', 'evidence', '--param', 'low_weight=-1'], /low_weight must be in \[0, 100\]/);
      expectFailure([...base, '--model', 'evidence', '--param', 'low_weight=0,1'], /needs --select/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad flags and bad files exit non-zero with a message naming the problem', () => {
    const dir = makeTempDir('profiled-e2e-eval-');
    try {
      const { csv, tsv } = writeFiles(dir);
      const base = (file, format) => ['--ratings', file, '--format', format, '--model', 'popular', '--protocol', 'holdout'];
      expectFailure(['--ratings', path.join(dir, 'missing.csv'), '--format', 'movielens-csv', '--model', 'ease', '--protocol', 'holdout'], /missing\.csv/);
      expectFailure(['--format', 'movielens-csv', '--model', 'ease', '--protocol', 'holdout'], /--ratings/);
      expectFailure([...base(csv, 'movielens-json')], /unknown ratings format/);
      expectFailure(['--ratings', csv, '--format', 'movielens-csv', '--model', 'svd', '--protocol', 'holdout'], /unknown model "svd"/);
      expectFailure(['--ratings', csv, '--format', 'movielens-csv', '--model', 'ease', '--protocol', 'loo'], /unknown protocol "loo"/);
      expectFailure([...base(csv, 'movielens-csv'), '--k', '10,0'], /--k/);
      expectFailure([...base(csv, 'movielens-csv'), '--k', '10,10'], /--k: 10 is given twice/);
      expectFailure([...base(csv, 'movielens-csv'), '--param', 'lambda=1'], /no parameter "lambda"/);
      expectFailure(['--ratings', csv, '--format', 'movielens-csv', '--model', 'ease', '--protocol', 'holdout', '--param', 'lambda=-3'], /lambda/);
      expectFailure([...base(csv, 'movielens-csv'), '--param', 'lambda'], /NAME=VALUE/);
      expectFailure(['--ratings', csv, '--format', 'movielens-csv', '--model', 'ease,itemknn', '--protocol', 'holdout',
        '--param', 'lamda=3'], /lamda=3 fits none of the models/);
      // A tsv read as csv has no header; a csv read as tsv has one field per line.
      expectFailure(base(tsv, 'movielens-csv'), /line 1: expected the header/);
      expectFailure(base(csv, 'movielens-tsv'), /line 1: expected 4 fields separated by tabs/);
      const broken = path.join(dir, 'broken.csv');
      fs.writeFileSync(broken, 'userId,movieId,rating,timestamp\n1,2,4.0,5\n1,2,four,5\n');
      expectFailure(base(broken, 'movielens-csv'), /broken\.csv: line 3: bad rating/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
