#!/usr/bin/python3
"""EASE with sub-threshold ratings as input evidence: a numpy prototype (docs/RECS.md,
"Beyond plain EASE"), its parameters chosen on validation data carved from the training data.

Usage: bench/ease_evidence.py SPLIT_DIR RATINGS_CSV [--folds 5] [--share 0.1] [--min-rating 4]

SPLIT_DIR is what `profiled eval --dump-split SPLIT_DIR` writes for one protocol and seed. The
model: an input matrix X_in = positives + r·(rating − 4 on positives) + w·(the user's ratings
below --min-rating, each 1), the target Y = positives, and EASE's zero-diagonal constraint
generalised to a separate input:

    P = (X_inᵀX_in + λI)⁻¹,  B = P X_inᵀY − P·diag(γ),  γ_j = (P X_inᵀY)_jj / P_jj,

so B_jj = 0 (an item's own evidence never scores it); with w = r = 0 it is plain EASE. Scores
are x_in·B, debiased by c_j^−β (c_j: training users with j positive, as `popularity_exponent`).
Everything is computed in the users × users (dual) form.

A user's sub-threshold ratings are evidence about them, never a test item (only positives
are held out); the items ranked are exactly plain EASE's (every item outside the user's
positive history), so the protocol is unchanged. Under `strong`, a test user's sub-threshold
ratings join their fold-in history as evidence, as a training user's do.

The grid (--lambdas, --betas, --negative-weights, --rating-weights, comma-separated) defaults
to the one docs/RECS.md reports first. Selection: holdout: each fold holds out ⌊share·n⌋ of every training user's n positives (users
with ⌊share·n⌋ ≥ 1 are evaluated) and the model trains on the rest; strong: each fold holds out
a `share` of the training users (those with ≥ 5 positives), 20 % of each one's positives as
validation items, the other 80 % and their sub-threshold ratings folded in. A candidate's score
is its mean NDCG@10 over the folds; the best wins (ties to the earlier), is trained on the
whole training data and is measured once on the test items, next to plain EASE (λ = 300).
Folds use numpy's PCG64 seeded with 1000·seed + fold. Prints every candidate's validation score
on stderr and two JSON lines (plain EASE, the chosen model) on stdout.
"""
import argparse
import csv
import json
import sys

import numpy as np


def load(split_dir, ratings_path, min_rating):
    split = json.load(open(split_dir + "/split.json"))
    ratings = {}
    with open(ratings_path) as f:
        rows = csv.reader(f)
        next(rows)
        for u, i, r, _ in rows:
            ratings[(int(u), int(i))] = float(r)
    positives = {}
    for (u, i), r in ratings.items():
        if r >= min_rating:
            positives.setdefault(u, set()).add(i)
    all_items = sorted({i for s in positives.values() for i in s})

    def read(name):
        pairs = np.loadtxt(f"{split_dir}/{name}", dtype=np.int64, ndmin=2)
        out = {}
        for r, i in pairs:
            out.setdefault(int(r), set()).add(int(i))
        return out

    train, history, held = read("train.tsv"), read("history.tsv"), read("held_out.tsv")
    if split["protocol"] == "holdout":
        movies = all_items
    else:
        movies = strong_item_space(train, positives)
    # Map a row to its user: the user whose positives hold the row's items (and, for an
    # evaluated user, exactly history ∪ held out).
    def match(item_sets, movie_of, exact):
        by_movie = {}
        for u, s in positives.items():
            for i in s:
                by_movie.setdefault(i, []).append(u)
        out, used = {}, set()
        for row in sorted(item_sets):
            s = {movie_of[i] for i in item_sets[row]}
            cands = sorted(u for u in by_movie[min(s)] if u not in used and
                           (positives[u] == s if exact else s <= positives[u]))
            out[row] = cands[0]
            used.add(cands[0])
        return out

    movie_of = movies
    row_user = match(train, movie_of, exact=split["protocol"] == "strong")
    eval_sets = {r: history.get(r, set()) | held[r] for r in held}
    eval_user = match(eval_sets, movie_of, exact=False)
    index = {m: k for k, m in enumerate(movies)}
    neg = {}
    rating_of = {}
    for (u, i), r in ratings.items():
        if i in index:
            if r < min_rating:
                neg.setdefault(u, []).append(index[i])
            else:
                rating_of[(u, index[i])] = r
    return split, len(movies), train, history, held, row_user, eval_user, neg, rating_of


def strong_item_space(train, positives):
    # Under strong the training users keep all their positives, the rows are in ascending
    # user order, and the item space is the union of their items in ascending MovieLens id.
    # Align the rows' sizes with the users' (the test users are skipped), depth first with
    # backtracking, until the chosen users' union is the space and maps onto every row.
    n_items = max(i for s in train.values() for i in s) + 1
    rows = [train[r] for r in sorted(train)]
    users = sorted(positives)
    skips = len(users) - len(rows)

    def fits(chosen):
        space = sorted({i for u in chosen for i in positives[u]})
        if len(space) != n_items:
            return None
        index = {m: k for k, m in enumerate(space)}
        ok = all({index[i] for i in positives[u]} == rows[k] for k, u in enumerate(chosen))
        return space if ok else None

    stack = [(0, [])]  # (next user, users chosen so far)
    while stack:
        i, chosen = stack.pop()
        k = len(chosen)
        if k == len(rows):
            space = fits(chosen)
            if space is not None:
                return space
            continue
        if i >= len(users) or (i - k) > skips:
            continue
        stack.append((i + 1, chosen))  # skip users[i] (tried second)
        if len(positives[users[i]]) == len(rows[k]):
            stack.append((i + 1, chosen + [users[i]]))  # match (tried first)
    sys.exit("ease_evidence: cannot map the strong split's rows to users")


class Evidence:
    """Per-row sparse lists of the input X_in and the target Y over m items."""

    def __init__(self, m):
        self.m = m
        self.rows_in = []  # (idx, vals)
        self.rows_y = []

    def add(self, pos, neg, rating_of_item, w, r):
        pos = np.array(sorted(pos), dtype=np.int64)
        vals = np.ones(len(pos)) + r * np.array([rating_of_item(i) - 4.0 for i in pos])
        neg = np.array(sorted(set(neg) - set(pos.tolist())), dtype=np.int64)
        idx = np.concatenate([pos, neg])
        v = np.concatenate([vals, np.full(len(neg), w)])
        keep = v != 0
        self.rows_in.append((idx[keep], v[keep]))
        self.rows_y.append((pos, np.ones(len(pos))))

    def dense_in(self):
        a = np.zeros((len(self.rows_in), self.m))
        for u, (idx, v) in enumerate(self.rows_in):
            a[u, idx] = v
        return a


def right_mul(z, rows, m):
    out = np.zeros((z.shape[0], m))
    for u, (idx, vals) in enumerate(rows):
        if len(idx):
            out[:, idx] += np.outer(z[:, u], vals)
    return out


def columns(rows, m):
    cols = [([], []) for _ in range(m)]
    for u, (idx, vals) in enumerate(rows):
        for j, v in zip(idx.tolist(), vals.tolist()):
            cols[j][0].append(u)
            cols[j][1].append(v)
    return [(np.array(a, dtype=np.int64), np.array(b)) for a, b in cols]


def scores(train, queries, lam, betas):
    """Scores of each query row (an Evidence of the users to score) for every β."""
    m = train.m
    a = train.dense_in()
    n = len(train.rows_in)
    g = np.zeros((n, n))
    for u, (idx, v) in enumerate(train.rows_in):
        if len(idx):
            g[u] = a[:, idx] @ v
    kinv = np.linalg.inv(g + lam * np.eye(n))
    ca, cy = columns(train.rows_in, m), columns(train.rows_y, m)
    p_diag, m_diag = np.full(m, 1.0 / lam), np.zeros(m)
    for j in range(m):
        ua, va = ca[j]
        uy, vy = cy[j]
        if len(ua):
            p_diag[j] = (1 - va @ kinv[np.ix_(ua, ua)] @ va) / lam
            if len(uy):
                m_diag[j] = va @ kinv[np.ix_(ua, uy)] @ vy
    gamma = m_diag / p_diag
    q = queries.dense_in()
    qa = np.zeros((q.shape[0], n))
    for k, (idx, v) in enumerate(queries.rows_in):
        if len(idx):
            qa[k] = a[:, idx] @ v
    z = qa @ kinv
    s = right_mul(z, train.rows_y, m) - ((q - right_mul(z, train.rows_in, m)) / lam) * gamma
    counts = np.maximum(np.array([len(c[0]) for c in cy], dtype=np.float64), 1.0)
    return {beta: s * counts ** -beta for beta in betas}


def rank_metrics(s, excluded, held, k=10):
    s = s.copy()
    s[excluded] = -np.inf
    top = np.argsort(-s, kind="stable")[:k]  # ties to the lower index
    hits = np.array([1.0 if i in held else 0.0 for i in top])
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    n = min(k, len(held))
    return hits.sum() / n, (hits * disc).sum() / disc[:n].sum()


def evaluate(train_rows, query_rows, held_sets, m, lam, betas, w, r):
    """Mean (recall@10, ndcg@10) per β. train_rows/query_rows: (pos, neg, rating_of_item)."""
    tr, qr = Evidence(m), Evidence(m)
    for pos, neg, rof in train_rows:
        tr.add(pos, neg, rof, w, r)
    for pos, neg, rof in query_rows:
        qr.add(pos, neg, rof, w, r)
    out = {}
    for beta, s in scores(tr, qr, lam, betas).items():
        res = [rank_metrics(s[k], np.array(sorted(query_rows[k][0]), dtype=np.int64), held_sets[k])
               for k in range(len(query_rows))]
        out[beta] = tuple(np.mean(res, axis=0))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("split_dir")
    ap.add_argument("ratings")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--min-rating", type=float, default=4.0)
    ap.add_argument("--lambdas", default="300", help="the grid's λ values, comma-separated")
    ap.add_argument("--betas", default="0,0.15,0.25,0.35")
    ap.add_argument("--negative-weights", default="0,0.1,0.25,0.5")
    ap.add_argument("--rating-weights", default="0,0.5")
    ap.add_argument("--check", action="store_true",
                    help="only plain EASE on the test items (it must equal profiled eval's)")
    args = ap.parse_args()

    def floats(text):
        return [float(x) for x in text.split(",")]

    lambdas, betas = floats(args.lambdas), floats(args.betas)
    neg_weights, rating_weights = floats(args.negative_weights), floats(args.rating_weights)
    split, m, train, history, held, row_user, eval_user, neg, rating_of = load(
        args.split_dir, args.ratings, args.min_rating)
    protocol, seed = split["protocol"], split["seed"]

    def row(u, pos):
        return (set(pos), neg.get(u, []), lambda i, u=u: rating_of.get((u, i), 4.0))

    train_rows = [row(row_user[r], train[r]) for r in sorted(train)]
    if args.check:
        best, best_score, totals, base = None, 0.0, {}, None
        args.folds = 0
    grid = [(lam, w, r) for lam in lambdas for w in neg_weights for r in rating_weights]
    totals, plain = {}, []  # plain: plain EASE per fold, the reference of "vs_plain"
    for fold in range(args.folds):
        rng = np.random.default_rng(1000 * seed + fold)
        if protocol == "holdout":
            fit, queries, held_v = [], [], []
            for pos, ng, rof in train_rows:
                items = sorted(pos)
                k = int(np.floor(args.share * len(items)))
                perm = rng.permutation(len(items))
                out = {items[p] for p in perm[:k]}
                fit.append((pos - out, ng, rof))
                if k >= 1:
                    queries.append(fit[-1])
                    held_v.append(out)
        else:
            eligible = [t for t in range(len(train_rows)) if len(train_rows[t][0]) >= 5]
            perm = rng.permutation(len(eligible))
            n_out = int(np.floor(args.share * len(eligible)))
            out_users = {eligible[p] for p in perm[:n_out]}
            fit = [train_rows[t] for t in range(len(train_rows)) if t not in out_users]
            queries, held_v = [], []
            for t in sorted(out_users):
                pos, ng, rof = train_rows[t]
                items = sorted(pos)
                p2 = rng.permutation(len(items))
                k = len(items) // 5
                out = {items[p] for p in p2[:k]}
                queries.append((pos - out, ng, rof))
                held_v.append(out)
        plain.append(evaluate(fit, queries, held_v, m, 300.0, [0.0], 0.0, 0.0)[0.0][1])
        for lam, w, r in grid:
            for beta, (_, ndcg) in evaluate(fit, queries, held_v, m, lam, betas, w, r).items():
                totals.setdefault((lam, beta, w, r), []).append(ndcg)
        print(f"fold {fold}: {len(queries)} validation users", file=sys.stderr, flush=True)
    if not args.check:
        base = np.array(plain)
        best, best_score = None, -1.0
    for cand, vals in totals.items():
        score = float(np.mean(vals))
        gain = float(np.mean(np.array(vals) / base) - 1)
        print(f"candidate lambda={cand[0]:g} popularity_exponent={cand[1]:g} negative_weight="
              f"{cand[2]:g} rating_weight={cand[3]:g} validation_ndcg@10={score:.6f} "
              f"vs_plain={gain * 100:+.2f}%", file=sys.stderr)
        if score > best_score:
            best, best_score = cand, score

    query_rows, held_sets = [], []
    for r in sorted(held):
        u = eval_user[r]
        query_rows.append(row(u, history.get(r, set())))
        held_sets.append(held[r])
    runs = [("ease", (300.0, 0.0, 0.0, 0.0))] + ([] if args.check else [("ease-evidence", best)])
    for name, (lam, beta, w, rw) in runs:
        recall, ndcg = evaluate(train_rows, query_rows, held_sets, m, lam, [beta], w, rw)[beta]
        line = {"model": name, "protocol": protocol, "seed": seed, "users": len(query_rows),
                "items": m, "recall@10": round(recall, 6), "ndcg@10": round(ndcg, 6)}
        if name != "ease":
            line["params"] = {"lambda": lam, "popularity_exponent": beta,
                              "negative_weight": w, "rating_weight": rw}
            line["validation_ndcg@10"] = round(best_score, 6)
            line["validation_vs_plain"] = round(
                float(np.mean(np.array(totals[best]) / base) - 1), 4)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
