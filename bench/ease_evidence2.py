#!/usr/bin/python3
"""Evidence EASE, second round: a dense, faster numpy form of bench/ease_evidence.py's model
with more kinds of evidence, its parameters chosen on validation data carved from the training
data (docs/RECS.md, "Beyond plain EASE", "Evidence EASE, second round").

Usage: bench/ease_evidence2.py SPLIT_DIR RATINGS_CSV [--validate-only] [--check] [grid flags]
(bench/ease_evidence2.sh runs the grid docs/RECS.md reports on seeds 1–3 and both protocols.)

SPLIT_DIR is what `profiled eval --dump-split SPLIT_DIR` writes for one protocol and seed
(bench/ease_evidence.py's loader maps its rows back to MovieLens users). The model:

- input X_in: a positive (rating ≥ 4) counts 1 + r·(rating − 4); a rating below 4 counts
  w_hi when it is 3 or 3.5 and w_lo when it is 2.5 or less (so w_hi = w_lo is the first round's
  single w);
- target Y: the positives (0/1); with --low-targets v > 0 a rating below 4 is a target of −v
  (a diagnostic: under holdout it mostly teaches the model to demote the very items each
  training user rated low, which the protocol can never hold out; docs/RECS.md says why it is
  not in the grid);
- each training row (input and target) scaled by |positives of u|^(−α/2) (α = 0: unscaled);
- B = argmin ‖Y − X_in B‖² + Σ_j Λ_j ‖B_j·‖² subject to diag(B) = 0, with Λ_j = λ + a·d_j and
  d_j = Σ_u X_in[u, j]² (a > 0: the dropout emphasis of Steck 2020, EDLAE/DLAE, as a
  regulariser; a = 0: EASE's λ), in closed form: with D = Λ^(−1/2), A = X_in·D, K = A·Aᵀ + I,
  P = D(I − AᵀK⁻¹A)D, M = D·AᵀK⁻¹Y, γ_j = M_jj / P_jj, B = M − P·diag(γ);
- score of item j for a history's evidence q: (q·B)_j · c_j^(−β), c_j the training users with
  j positive (the popularity debiasing of `popularity_exponent`).

Optionally blended with iALS (--ials-weights ω > 0): iALS (Hu, Koren & Volinsky 2008, in the
form of Rendle et al. 2022, frequency-scaled regularisation) on the positives, an observed pair
weighted 1 + --ials-confidence·(rating − 4), the history folded in; each score vector
standardised over the items outside the history, mixed (1 − ω, ω) as `profiled eval`'s blend.

With r = w_hi = w_lo = α = a = β = ω = 0 and λ = 300 it is plain EASE (--check prints its test
figures, which equal `profiled eval`'s). Ranked items and test items are the protocol's; a user's
sub-threshold ratings are evidence, never a test item (nor a target, unless --low-targets).

Validation folds are bench/ease_evidence.py's: holdout: ⌊share·n⌋ of each training user's n
positives held out, 5 folds; strong: a share of the training users held out (20 % of each one's
positives as validation items), --folds folds. numpy's PCG64 seeded with 1000·seed + fold.
A candidate's score is its mean validation NDCG@10 over the folds; the best wins (ties to the
earlier in grid order), is trained on the whole training data and measured once on the test
items next to plain EASE, unless --validate-only.
"""
import argparse
import csv
import itertools
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ease_evidence  # noqa: E402  (the loader: split rows → MovieLens users)


def load(split_dir, ratings_path, min_rating):
    split, m, train, history, held, row_user, eval_user, _, rating_of = ease_evidence.load(
        split_dir, ratings_path, min_rating)
    ratings, positives = {}, {}
    with open(ratings_path) as f:
        rows = csv.reader(f)
        next(rows)
        for u, i, r, _ in rows:
            ratings[(int(u), int(i))] = float(r)
            if float(r) >= min_rating:
                positives.setdefault(int(u), set()).add(int(i))
    if split["protocol"] == "holdout":
        movies = sorted({i for s in positives.values() for i in s})
    else:
        movies = ease_evidence.strong_item_space(train, positives)
    assert len(movies) == m
    index = {mv: k for k, mv in enumerate(movies)}
    low = {}  # user → (item indices, ratings) below min_rating, in the item space
    for (u, i), r in sorted(ratings.items()):
        if r < min_rating and i in index:
            low.setdefault(u, ([], []))
            low[u][0].append(index[i])
            low[u][1].append(r)
    return split, m, train, history, held, row_user, eval_user, low, rating_of


class Row:
    """One user's evidence: positive items (sorted) with their ratings, low items with theirs."""

    def __init__(self, pos, pos_ratings, low_items, low_ratings):
        self.pos = np.array(pos, dtype=np.int64)
        self.pos_r = np.array(pos_ratings, dtype=np.float64)
        keep = ~np.isin(np.array(low_items, dtype=np.int64), self.pos)
        self.low = np.array(low_items, dtype=np.int64)[keep]
        self.low_r = np.array(low_ratings, dtype=np.float64)[keep]

    def without(self, out):
        keep = ~np.isin(self.pos, np.array(sorted(out), dtype=np.int64))
        r = Row([], [], [], [])
        r.pos, r.pos_r, r.low, r.low_r = self.pos[keep], self.pos_r[keep], self.low, self.low_r
        return r


def evidence(rows, m, r, w_hi, w_lo):
    x = np.zeros((len(rows), m))
    for k, row in enumerate(rows):
        x[k, row.low] = np.where(row.low_r >= 3.0, w_hi, w_lo)
        x[k, row.pos] = 1.0 + r * (row.pos_r - 4.0)
    return x


def targets(rows, m, v=0.0):
    y = np.zeros((len(rows), m))
    for k, row in enumerate(rows):
        if v:
            y[k, row.low] = -v
        y[k, row.pos] = 1.0
    return y


def fit_score(fit_rows, query_rows, m, lam, a, alpha, r, w_hi, w_lo, v, betas):
    """Scores (queries × m) for each β."""
    x = evidence(fit_rows, m, r, w_hi, w_lo)
    y = targets(fit_rows, m, v)
    if alpha:
        scale = np.array([max(len(row.pos), 1) for row in fit_rows], dtype=np.float64)
        scale = scale ** (-alpha / 2)
        x *= scale[:, None]
        y *= scale[:, None]
    lam_j = lam + a * (x * x).sum(axis=0)
    d = lam_j ** -0.5
    amat = x * d
    k = amat @ amat.T + np.eye(len(fit_rows))
    kinv = np.linalg.inv(k)
    kinv = (kinv + kinv.T) / 2
    ka = kinv @ amat
    ky = kinv @ y
    p_diag = d * d * (1.0 - (amat * ka).sum(axis=0))
    m_diag = d * (amat * ky).sum(axis=0)
    gamma = m_diag / p_diag
    q = evidence(query_rows, m, r, w_hi, w_lo)
    z = (q * d) @ amat.T  # q·D·Aᵀ
    # q·B = q·M − (q·P)·γ, q·M = z·K⁻¹·Y·…: M = D·Aᵀ·K⁻¹·Y, so q·M = (q·D·Aᵀ)·K⁻¹·Y.
    zk = z @ kinv
    qm = zk @ y
    qp = (q * d - zk @ amat) * d  # q·D(I − AᵀK⁻¹A)D
    s = qm - qp * gamma
    counts = np.maximum((targets(fit_rows, m) > 0).sum(axis=0).astype(np.float64), 1.0)
    return {beta: s * counts ** -beta for beta in betas}


def ials_scores(fit_rows, query_rows, m, d, alpha0, lam, conf_r, epochs=10, seed=1):
    """iALS (Hu, Koren & Volinsky 2008, in the form of Rendle et al. 2022, frequency-scaled
    regularisation ν = 1) on the positives, an observed pair weighted 1 + conf_r·(rating − 4);
    the query rows folded in as a training user step would. Scores (queries × m)."""
    rng = np.random.default_rng(seed)
    h = rng.normal(0.0, 0.1 / np.sqrt(d), (m, d))
    users = [(row.pos, 1.0 + conf_r * (row.pos_r - 4.0)) for row in fit_rows]
    item_lists = [([], []) for _ in range(m)]
    for u, (idx, c) in enumerate(users):
        for j, cj in zip(idx.tolist(), c.tolist()):
            item_lists[j][0].append(u)
            item_lists[j][1].append(cj)
    items = [(np.array(a, dtype=np.int64), np.array(b)) for a, b in item_lists]
    eye = np.eye(d)

    def solve(other, rows, n_other):
        gram = alpha0 * other.T @ other
        out = np.zeros((len(rows), d))
        for start in range(0, len(rows), 512):
            chunk = rows[start:start + 512]
            a = np.empty((len(chunk), d, d))
            b = np.zeros((len(chunk), d))
            for k, (idx, c) in enumerate(chunk):
                o = other[idx]
                a[k] = gram + (o.T * c) @ o + lam * (len(idx) + alpha0 * n_other) * eye
                b[k] = c @ o
            out[start:start + len(chunk)] = np.linalg.solve(a, b[:, :, None])[:, :, 0]
        return out

    for _ in range(epochs):
        w = solve(h, users, m)
        h = solve(w, items, len(users))
    wq = solve(h, [(row.pos, 1.0 + conf_r * (row.pos_r - 4.0)) for row in query_rows], m)
    return wq @ h.T


def standardised(s, query_rows):
    mask = np.ones(s.shape, dtype=bool)
    for i, row in enumerate(query_rows):
        mask[i, row.pos] = False
    n = mask.sum(axis=1, keepdims=True)
    mean = np.where(mask, s, 0.0).sum(axis=1, keepdims=True) / n
    var = np.where(mask, (s - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / n
    return (s - mean) / np.sqrt(np.maximum(var, 1e-30))


def ndcg_recall(s, query_rows, held_sets, k=10):
    s = s.copy()
    for i, row in enumerate(query_rows):
        s[i, row.pos] = -np.inf
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    nd, rc = [], []
    for i, held in enumerate(held_sets):
        hits = np.array([1.0 if t in held else 0.0 for t in top[i].tolist()])
        n = min(k, len(held))
        nd.append((hits * disc).sum() / disc[:n].sum())
        rc.append(hits.sum() / n)
    return float(np.mean(rc)), float(np.mean(nd))


def folds(train_rows, protocol, seed, n_folds, share):
    for fold in range(n_folds):
        rng = np.random.default_rng(1000 * seed + fold)
        if protocol == "holdout":
            fit, queries, held_v = [], [], []
            for row in train_rows:
                items = row.pos.tolist()
                kk = int(np.floor(share * len(items)))
                perm = rng.permutation(len(items))
                out = {items[p] for p in perm[:kk]}
                fit.append(row.without(out))
                if kk >= 1:
                    queries.append(fit[-1])
                    held_v.append(out)
        else:
            eligible = [t for t in range(len(train_rows)) if len(train_rows[t].pos) >= 5]
            perm = rng.permutation(len(eligible))
            n_out = int(np.floor(share * len(eligible)))
            out_users = {eligible[p] for p in perm[:n_out]}
            fit = [train_rows[t] for t in range(len(train_rows)) if t not in out_users]
            queries, held_v = [], []
            for t in sorted(out_users):
                items = train_rows[t].pos.tolist()
                p2 = rng.permutation(len(items))
                kk = len(items) // 5
                out = {items[p] for p in p2[:kk]}
                queries.append(train_rows[t].without(out))
                held_v.append(out)
        yield fit, queries, held_v


def chosen_scores(p, fit_rows, query_rows, m):
    ease_part = (p["lambda"], p["emphasis"], p["alpha"], p["rating_weight"], p["high_weight"],
                 p["low_weight"], p["low_target"])
    beta = p["popularity_exponent"]
    s = fit_score(fit_rows, query_rows, m, *ease_part, [beta])[beta]
    if p["ials_weight"] > 0:
        si = ials_scores(fit_rows, query_rows, m, p["ials_factors"], p["ials_alpha0"],
                         p["ials_lambda"], p["ials_confidence"])
        s = ((1 - p["ials_weight"]) * standardised(s, query_rows)
             + p["ials_weight"] * standardised(si, query_rows))
    return s


def per_user_ndcg(s, query_rows, held_sets):
    return np.array([ndcg_recall(s[i:i + 1], query_rows[i:i + 1], held_sets[i:i + 1])[1]
                     for i in range(len(query_rows))])


def measure_paired(params, train_rows, query_rows, held_sets, m, protocol, seed):
    plain = fit_score(train_rows, query_rows, m, 300.0, 0, 0, 0, 0, 0, 0, [0.0])[0.0]
    a = per_user_ndcg(plain, query_rows, held_sets)
    b = per_user_ndcg(chosen_scores(params, train_rows, query_rows, m), query_rows, held_sets)
    n = len(a)
    print(json.dumps({"protocol": protocol, "seed": seed, "users": n,
                      "ease_ndcg@10": round(float(a.mean()), 6),
                      "chosen_ndcg@10": round(float(b.mean()), 6),
                      "gain": round(float(b.mean() / a.mean() - 1), 4),
                      "gain_paired_se": round(float((b - a).std(ddof=1) / np.sqrt(n) / a.mean()), 4),
                      "ease_ndcg_se": round(float(a.std(ddof=1) / np.sqrt(n)), 4)}), flush=True)


def diagnose_low(train_rows, m, protocol, seed, n_folds, share):
    plain, removed, slots = [], [], []
    for fit, queries, held_v in folds(train_rows, protocol, seed, n_folds, share):
        s = fit_score(fit, queries, m, 300.0, 0, 0, 0, 0, 0, 0, [0.0])[0.0]
        plain.append(ndcg_recall(s, queries, held_v)[1])
        seen = s.copy()
        for i, row in enumerate(queries):
            seen[i, row.pos] = -np.inf
        top = np.argsort(-seen, axis=1, kind="stable")[:, :10]
        slots.append(np.mean([np.isin(top[i], row.low).sum() for i, row in enumerate(queries)]))
        for i, row in enumerate(queries):
            s[i, row.low] = -np.inf
        removed.append(ndcg_recall(s, queries, held_v)[1])
    print(json.dumps({"protocol": protocol, "seed": seed, "folds": n_folds,
                      "ease_ndcg@10": round(float(np.mean(plain)), 6),
                      "without_own_low_ndcg@10": round(float(np.mean(removed)), 6),
                      "gain": round(float(np.mean(removed) / np.mean(plain) - 1), 4),
                      "own_low_in_top10": round(float(np.mean(slots)), 2)}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("split_dir")
    ap.add_argument("ratings")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--min-rating", type=float, default=4.0)
    ap.add_argument("--lambdas", default="300")
    ap.add_argument("--emphasis", default="0", help="a of Λ_j = λ + a·d_j")
    ap.add_argument("--alphas", default="0", help="row scaling exponents")
    ap.add_argument("--rating-weights", default="0.5")
    ap.add_argument("--high-weights", default="0.25,0.5", help="w_hi: ratings 3 and 3.5")
    ap.add_argument("--low-weights", default="0.25,0.5", help="w_lo: ratings ≤ 2.5")
    ap.add_argument("--low-targets", default="0", help="v: a rating below 4 is a target of −v")
    ap.add_argument("--betas", default="0.1,0.15,0.2,0.25")
    ap.add_argument("--ials-weights", default="0", help="ω: the blend's weight of iALS")
    ap.add_argument("--ials-factors", type=int, default=64)
    ap.add_argument("--ials-alpha0", type=float, default=0.1)
    ap.add_argument("--ials-lambda", type=float, default=0.02)
    ap.add_argument("--ials-confidence", type=float, default=0.5,
                    help="an observed pair weighs 1 + this·(rating − 4)")
    ap.add_argument("--validate-only", action="store_true")
    ap.add_argument("--check", action="store_true", help="plain EASE on the test items only")
    ap.add_argument("--params", help="no selection: measure this chosen \"params\" object (a "
                    "JSON line of a previous run) on the test items, with paired standard errors")
    ap.add_argument("--diagnose-low", action="store_true",
                    help="on the validation folds only: plain EASE, the same with each user's "
                    "own sub-threshold items removed from the ranking, and how many of those "
                    "its top 10 held")
    args = ap.parse_args()

    def floats(text):
        return [float(v) for v in text.split(",")]

    split, m, train, history, held, row_user, eval_user, low, rating_of = load(
        args.split_dir, args.ratings, args.min_rating)
    protocol, seed = split["protocol"], split["seed"]

    def row(u, pos):
        pos = sorted(pos)
        li, lr = low.get(u, ([], []))
        return Row(pos, [rating_of.get((u, i), 4.0) for i in pos], li, lr)

    train_rows = [row(row_user[t], train[t]) for t in sorted(train)]
    query_rows, held_sets = [], []
    for t in sorted(held):
        query_rows.append(row(eval_user[t], history.get(t, set())))
        held_sets.append(held[t])
    plain = (300.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if args.check:
        s = fit_score(train_rows, query_rows, m, *plain[:7], [0.0])[0.0]
        recall, ndcg = ndcg_recall(s, query_rows, held_sets)
        print(json.dumps({"model": "ease", "protocol": protocol, "seed": seed,
                          "recall@10": round(recall, 6), "ndcg@10": round(ndcg, 6)}))
        return
    if args.params:
        measure_paired(json.loads(args.params), train_rows, query_rows, held_sets, m, protocol, seed)
        return
    if args.diagnose_low:
        diagnose_low(train_rows, m, protocol, seed, args.folds, args.share)
        return
    betas = floats(args.betas)
    grid = list(itertools.product(floats(args.lambdas), floats(args.emphasis),
                                  floats(args.alphas), floats(args.rating_weights),
                                  floats(args.high_weights), floats(args.low_weights),
                                  floats(args.low_targets)))
    omegas = floats(args.ials_weights)
    ials_cfg = (args.ials_factors, args.ials_alpha0, args.ials_lambda, args.ials_confidence)

    def candidates(fit, queries):
        """(candidate, scores) for every point of the grid: EASE part, β, ω."""
        si = None
        if any(o > 0 for o in omegas):
            si = standardised(ials_scores(fit, queries, m, *ials_cfg), queries)
        for cand in grid:
            for beta, s in fit_score(fit, queries, m, *cand, betas).items():
                ze = standardised(s, queries) if si is not None else None
                for omega in omegas:
                    if omega == 0:
                        yield cand + (beta, 0.0), s
                    else:
                        yield cand + (beta, omega), (1 - omega) * ze + omega * si

    totals, base, n_validation = {}, [], 0
    for fold, (fit, queries, held_v) in enumerate(
            folds(train_rows, protocol, seed, args.folds, args.share)):
        base.append(ndcg_recall(fit_score(fit, queries, m, *plain[:7], [0.0])[0.0],
                                queries, held_v)[1])
        for cand, s in candidates(fit, queries):
            totals.setdefault(cand, []).append(ndcg_recall(s, queries, held_v)[1])
        n_validation += len(queries)
        print(f"fold {fold}: {len(queries)} validation users", file=sys.stderr, flush=True)
    base = np.array(base)
    best, best_score = None, -1.0
    for cand, vals in totals.items():
        score = float(np.mean(vals))
        gain = float(np.mean(vals) / np.mean(base) - 1)
        print("candidate lambda={:g} emphasis={:g} alpha={:g} rating_weight={:g} "
              "high_weight={:g} low_weight={:g} low_target={:g} beta={:g} ials_weight={:g} "
              "validation_ndcg@10={:.6f} vs_plain={:+.2f}%".format(*cand, score, gain * 100),
              file=sys.stderr)
        if score > best_score:
            best, best_score = cand, score
    names = ("lambda", "emphasis", "alpha", "rating_weight", "high_weight", "low_weight",
             "low_target", "popularity_exponent", "ials_weight")
    chosen = {"protocol": protocol, "seed": seed, "params": dict(zip(names, best)),
              "validation_ndcg@10": round(best_score, 6),
              "validation_vs_plain": round(best_score / float(np.mean(base)) - 1, 4),
              "validation_users": n_validation, "candidates": len(totals)}
    if best[8] > 0:
        chosen["params"].update(dict(zip(
            ("ials_factors", "ials_alpha0", "ials_lambda", "ials_confidence"), ials_cfg)))
    if args.validate_only:
        print(json.dumps(chosen), flush=True)
        return
    for name in ("ease", "ease-evidence2"):
        if name == "ease":
            s = fit_score(train_rows, query_rows, m, *plain[:7], [0.0])[0.0]
        else:
            s = fit_score(train_rows, query_rows, m, *best[:7], [best[7]])[best[7]]
            if best[8] > 0:
                si = standardised(ials_scores(train_rows, query_rows, m, *ials_cfg), query_rows)
                s = (1 - best[8]) * standardised(s, query_rows) + best[8] * si
        recall, ndcg = ndcg_recall(s, query_rows, held_sets)
        line = {"model": name, "protocol": protocol, "seed": seed, "users": len(query_rows),
                "items": m, "recall@10": round(recall, 6), "ndcg@10": round(ndcg, 6)}
        if name != "ease":
            line.update({k: v for k, v in chosen.items() if k not in ("protocol", "seed")})
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
