// The evidence procedure of docs/RECS.md ("Evidence EASE in C++"): what a ratings file says beyond
// its positives, used as input evidence only, never as a target and never as a test item,
// offline (`profiled eval --model evidence`).
//
//  - Positives (ratings ≥ min_rating) are the protocol's as always (recs/protocol.h): the same
//    split, the same test items, the same ranked items (every item of the item space outside a
//    user's positive history).
//  - A row's evidence: each positive it keeps counts 1 + r·(rating − min_rating) (r =
//    rating_weight); each item of the item space it rated below min_rating counts high_weight
//    when the rating is at least min_rating − 1, low_weight below that. A rating below
//    min_rating is never held out: under holdout it is training evidence of its user's row,
//    under strong a test user's join their fold-in history, as a training user's join their row.
//  - The model: EvidenceEaseModel (recs/evidence_ease.h) from the rows' evidence to their kept
//    positives, with popularity debiasing; optionally blended with an iALS model whose observed
//    pairs weigh 1 + ials_confidence·(rating − min_rating): each score vector standardised over
//    the items outside the history, mixed (1 − ω, ω), ω = ials_weight (as BlendModel does).
//    With every weight, emphasis, debiasing and ω at 0 it is plain EASE.
//  - Selection (SelectEvidence): validation folds carved from the split's training rows with a
//    share s (0.1 in docs/RECS.md), closer to the test's regime than recs/selection.h's 20 %:
//      holdout: each training row with n positives has ⌊s·n⌋ of them held out (rows with
//        ⌊s·n⌋ ≥ 1 are evaluated); every row trains on the rest;
//      strong: ⌊s·e⌋ of the e training rows with ≥ 5 positives are held out, each with ⌊n/5⌋
//        of its n positives as validation items and the rest as history; the others train.
//    Fold f draws with SplitRandom(ValidationSeed(seed, f)). A candidate's score is its mean
//    NDCG@10 over the folds; the best wins (ties to the earlier in grid order).
//
// Pure functions of their inputs (apart from timings); thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "recs/evaluation.h"
#include "recs/evidence_ease.h"
#include "recs/model.h"
#include "recs/protocol.h"
#include "recs/ratings.h"
#include "recs/selection.h"

namespace profiled::recs {

// A rating of an item of a split's item space.
struct RatedItem {
  int32_t item = 0;
  float rating = 0;
  bool operator==(const RatedItem&) const = default;
};

// A split with its ratings: every rating a row's user gave to an item of the item space,
// positives and sub-threshold alike, sorted by item.
struct RatedSplit {
  EvalSplit split;
  double min_rating = 4;
  std::vector<std::vector<RatedItem>> train_rated;  // per split.train row
  std::vector<std::vector<RatedItem>> user_rated;   // per split.users entry
};

// Attaches `ratings` to `split`. REQUIRES: split = MakeSplit(positives.data, …) and positives =
// PositivesOf(ratings, min_rating).
RatedSplit AttachRatings(EvalSplit split, const std::vector<Rating>& ratings,
                         const Positives& positives, double min_rating);

struct EvidenceOptions {
  EvidenceEaseOptions ease;    // lambda, emphasis, popularity_exponent
  double rating_weight = 0;    // r ≥ 0
  double high_weight = 0;      // ≥ 0, ratings in [min_rating − 1, min_rating)
  double low_weight = 0;       // ≥ 0, ratings below min_rating − 1
  double ials_weight = 0;      // ω in [0, 1]; 0 trains no iALS
  IalsOptions ials;            // factors (64), alpha0 (0.1), ials_lambda (0.02), epochs (10), …
  double ials_confidence = 0;  // ≥ 0
};

// Options from (name, value) pairs as on the command line: lambda, emphasis,
// popularity_exponent, rating_weight, high_weight, low_weight, ials_weight, factors, alpha0,
// ials_lambda, reg_exponent, epochs, seed, ials_confidence. Unset ones keep the defaults above
// (plain EASE λ = 300). Fails with InvalidArgument naming a parameter that is unknown, not a
// number, or out of range.
Result<EvidenceOptions> EvidenceOptionsFrom(
    const std::vector<std::pair<std::string, std::string>>& params);

struct EvidenceCandidate {
  std::vector<std::pair<std::string, std::string>> params;
  EvidenceOptions options;
};

// Every combination of the values, the first parameter varying slowest (as ExpandGrid).
Result<std::vector<EvidenceCandidate>> ExpandEvidenceGrid(const std::vector<ParameterValues>& grid);

// Trains on split.train with the rows' evidence and measures on the evaluated users, as
// Evaluate does (report.model is left at its default; train_seconds covers both parts).
// Fails with InvalidArgument when ks is empty or holds 0, and as the models' training fails.
Result<EvalReport> EvaluateEvidence(const RatedSplit& split, const EvidenceOptions& options,
                                    std::span<const size_t> ks);

// Validation fold `fold` of `split` with share s (above). Its split.item_of is the identity.
RatedSplit EvidenceFold(const RatedSplit& split, uint64_t seed, int32_t fold, double share);

// Scores every candidate on `folds` folds and picks the best. Fails with InvalidArgument when
// there is no candidate, folds < 1, share is outside (0, 0.5], or a fold has no user to
// evaluate; as training fails otherwise.
Result<Selection> SelectEvidence(const RatedSplit& split, uint64_t seed,
                                 const std::vector<EvidenceCandidate>& candidates, int32_t folds,
                                 double share, const ValidationObserver& observer = {});

}  // namespace profiled::recs
