#!/usr/bin/python3
"""Dense numpy EASE (Steck 2019), the reference profiled's EASE is measured against.

Usage: bench/ease_reference.py SPLIT_DIR [--lambda 300] [--k 10,20]

SPLIT_DIR is what `profiled eval ... --dump-split SPLIT_DIR` writes (docs/RECS.md): the
training pairs, each evaluated user's history and held-out items. This script trains EASE
on the same training pairs with numpy, ranks the same users' unseen items, and prints one
JSON line in the shape `profiled eval` prints ("model":"ease-numpy"). Then, for every
ranking-*.tsv that `profiled eval --dump-split` left in SPLIT_DIR, it scores that ranking
with the same metric code as the numpy ranking (the "model" is then "<name>-ranking"), so
the C++ and the numpy models are compared through one metric implementation.

Runs with Debian's python3-numpy (/usr/bin/python3; `PROFILED_BENCH_DEPS=1
scripts/install-deps.sh` installs it).
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np


def load_pairs(path, rows, cols):
    m = np.zeros((rows, cols), dtype=np.float64)
    pairs = np.loadtxt(path, dtype=np.int64, ndmin=2)
    if pairs.size:
        m[pairs[:, 0], pairs[:, 1]] = 1.0
    return m


def ease(x, lam):
    # The dozen lines: G = XᵀX + λI, P = G⁻¹, B = −P / diag(P), diag(B) = 0.
    g = x.T @ x
    g[np.diag_indices_from(g)] += lam
    p = np.linalg.inv(g)
    b = p / (-np.diag(p))
    b[np.diag_indices_from(b)] = 0.0
    return b


def metrics(ranked, held_out, ks):
    """ranked: users × depth item indices; held_out: users × items 0/1. Mirrors src/recs/metrics.cc."""
    out = {}
    n_held = held_out.sum(axis=1)
    for k in ks:
        hits = np.take_along_axis(held_out, ranked[:, :k], axis=1)
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        dcg = (hits * discount).sum(axis=1)
        idcg = np.array([discount[: min(k, int(n))].sum() for n in n_held])
        out[k] = ((hits.sum(axis=1) / np.minimum(k, n_held)).mean(), (dcg / idcg).mean())
    return out


def report(name, protocol, ranked, held_out, ks, train_seconds):
    m = metrics(ranked, held_out, ks)
    line = {"model": name, "protocol": protocol, "users": int(held_out.shape[0]),
            "items": int(held_out.shape[1])}
    for k in ks:
        line[f"recall@{k}"] = round(float(m[k][0]), 6)
        line[f"ndcg@{k}"] = round(float(m[k][1]), 6)
    line["coverage@10"] = round(len(np.unique(ranked[:, :10])) / held_out.shape[1], 6)
    line["train_seconds"] = round(train_seconds, 3) if train_seconds is not None else None
    print(json.dumps(line, separators=(",", ":")), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("split_dir")
    ap.add_argument("--lambda", dest="lam", type=float, default=300.0)
    ap.add_argument("--k", default="10,20")
    args = ap.parse_args()
    ks = [int(k) for k in args.k.split(",")]
    depth = max(ks + [10])
    with open(os.path.join(args.split_dir, "split.json")) as f:
        meta = json.load(f)
    rows, items, users = meta["train_rows"], meta["items"], meta["users"]
    x = load_pairs(os.path.join(args.split_dir, "train.tsv"), rows, items)
    history = load_pairs(os.path.join(args.split_dir, "history.tsv"), users, items)
    held_out = load_pairs(os.path.join(args.split_dir, "held_out.tsv"), users, items)

    start = time.monotonic()
    b = ease(x, args.lam)
    train_seconds = time.monotonic() - start
    scores = history @ b
    scores[history > 0] = -np.inf
    # Best first; ties to the lower item index, as profiled breaks them.
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :depth]
    report("ease-numpy", meta["protocol"], ranked, held_out, ks, train_seconds)

    for path in sorted(glob.glob(os.path.join(args.split_dir, "ranking-*.tsv"))):
        name = os.path.basename(path)[len("ranking-"):-len(".tsv")]
        triples = np.loadtxt(path, dtype=np.int64, ndmin=2)  # user, rank, item
        other = np.zeros((users, depth), dtype=np.int64)
        other[triples[:, 0], triples[:, 1]] = triples[:, 2]
        report(name + "-ranking", meta["protocol"], other, held_out, ks, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
