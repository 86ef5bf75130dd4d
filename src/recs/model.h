// Item models: trained once from an Interactions set, then asked, many times, to score every
// item for one user given that user's *current* item history (a list of item indices), so a
// read can use the user's newest events without retraining.
//
//  - popular: the number of users who interacted with the item, whatever the history.
//  - itemknn: cosine similarity between items' user sets, each item keeping only its
//    `neighbours` most similar items; an item's score is the sum of its similarities to the
//    history's items (only through those kept lists).
//  - ease: Steck 2019, "Embarrassingly Shallow Autoencoders": B = argmin ‖X − XB‖² + λ‖B‖²
//    with diag(B) = 0, in closed form: P = (XᵀX + λI)⁻¹, B = −P / diag(P) column-wise,
//    diag(B) = 0; the score of item j is Σ_{i ∈ history} B_ij.
//    With `popularity_exponent` β > 0, the score of j is divided by j's count to the power β.
//  - ials: implicit alternating least squares with frequency-scaled regularisation (Rendle
//    et al. 2022); item embeddings, the history folded in at scoring time (recs/ials.h).
//  - blend: an ease model (debiased) and an ials model trained on the same data, each one's
//    scores standardised over the user's unseen items, summed with weights 1 − w and w
//    (recs/blend.h).
//
// A trained ItemModel is immutable: Score and Recommend are const and thread-safe. Train
// takes the data by reference and keeps nothing of it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "recs/interactions.h"

namespace profiled::recs {

enum class ModelKind { kPopular, kItemKnn, kEase, kIals, kBlend };

// The model names of the command line and of definitions: "popular", "itemknn", "ease", "ials",
// "blend".
std::string_view ModelName(ModelKind kind);
Result<ModelKind> ParseModelKind(std::string_view name);

// ials: the parameters of IalsModel (recs/ials.h has the loss they enter).
struct IalsOptions {
  int32_t factors = 64;     // d, the embedding size, in [1, 4096]
  double alpha0 = 0.1;      // α₀ ≥ 0, the weight of the unobserved pairs
  double lambda = 0.02;     // λ > 0
  double reg_exponent = 1;  // ν in [0, 4]: 1 scales λ by the row's frequency, 0 is plain L2
  int32_t epochs = 10;      // in [1, 1000], each a user step and an item step
  uint64_t seed = 1;        // of the initial item embeddings
};

// A model's options. Each model reads only its own fields; ModelOptionsFrom starts from
// DefaultModelOptions(kind), where blend's defaults differ from those of ease and ials alone.
struct ModelOptions {
  ModelKind kind = ModelKind::kEase;
  double lambda = 300.0;           // ease, blend (as ease_lambda): the L2 weight λ, in (0, 1e7]
  double popularity_exponent = 0;  // ease, blend: β in [0, 2], the popularity debiasing
  int32_t neighbours = 100;        // itemknn: similar items kept per item (≥ 1)
  // ease, blend: refuse to train above this many items (the model is a dense items × items
  // matrix of floats: 20,000 items is 1.6 GB).
  int32_t max_dense_items = 20'000;
  IalsOptions ials;          // ials, blend: named as in IalsOptions (blend: ials_lambda for λ)
  double ials_weight = 0.5;  // blend: w in [0, 1], the weight of the ials scores
};

// The options of `kind` before any parameter: the fields' defaults above, except for blend,
// which starts from the values docs/RECS.md reports ("Beyond plain EASE").
ModelOptions DefaultModelOptions(ModelKind kind);

// Options for `kind` with `params` applied, each a (name, value) pair as written on the command
// line ("lambda" "300"). Fails with InvalidArgument naming the parameter when one is unknown
// for that model, does not parse as a number, or is out of range.
Result<ModelOptions> ModelOptionsFrom(
    ModelKind kind, const std::vector<std::pair<std::string, std::string>>& params);

// The value of parameter `name` written as `text` when it is a finite number in [lo, hi];
// InvalidArgument naming the parameter otherwise (for models with parameters of their own).
Result<double> ParameterIn(const std::string& name, const std::string& text, double lo, double hi);

struct ScoredItem {
  int32_t item = 0;
  float score = 0;
};

class ItemModel {
 public:
  virtual ~ItemModel() = default;

  virtual ModelKind kind() const = 0;
  virtual int32_t num_items() const = 0;

  // Writes the score of every item for a user whose history is `history` into `scores`,
  // overwriting it. Higher is better; the scores of history items are meaningless.
  // REQUIRES: scores.size() == num_items(); every history item in [0, num_items()).
  virtual void Score(std::span<const int32_t> history, std::span<float> scores) const = 0;

  // Writes the score of each of `items` (the candidates, in any order, repeats allowed) into
  // `out`, out[k] for items[k], equal to what Score would write at items[k] for the same history.
  // Costs what the candidates cost, not what the item space costs (for serving).
  // REQUIRES: out.size() == items.size(); every history item and every item in
  // [0, num_items()).
  virtual void ScoreItems(std::span<const int32_t> history, std::span<const int32_t> items,
                          std::span<float> out) const = 0;
};

// Trains the model `options` describes on `data`. Fails with InvalidArgument when the options
// are out of range, and when an ease (or blend) model would exceed max_dense_items; with Internal
// when memory runs out or the linear algebra fails (never throws).
Result<std::unique_ptr<ItemModel>> TrainModel(const ModelOptions& options,
                                              const Interactions& data);

// The `n` best items for a user with `history`, best first, never an item of `history` or of
// `exclude`; ties go to the lower item index, so the answer is deterministic. Fewer than n when
// fewer items remain. Fails with InvalidArgument when an item of history or exclude is outside
// [0, model.num_items()).
Result<std::vector<ScoredItem>> Recommend(const ItemModel& model, std::span<const int32_t> history,
                                          std::span<const int32_t> exclude, size_t n);

// The `n` best entries of `scores`, best first, skipping those where excluded[i] is nonzero;
// ties to the lower index. REQUIRES: excluded.size() == scores.size(). Recommend without the
// validation, for callers that score many users into one buffer.
std::vector<ScoredItem> TopItems(std::span<const float> scores, std::span<const uint8_t> excluded,
                                 size_t n);

}  // namespace profiled::recs
