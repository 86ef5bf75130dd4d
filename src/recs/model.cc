#include "recs/model.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <new>

#include "recs/blend.h"
#include "recs/ease.h"
#include "recs/ials.h"
#include "recs/item_knn.h"
#include "recs/popular.h"

namespace profiled::recs {

std::string_view ModelName(ModelKind kind) {
  switch (kind) {
    case ModelKind::kPopular: return "popular";
    case ModelKind::kItemKnn: return "itemknn";
    case ModelKind::kEase: return "ease";
    case ModelKind::kIals: return "ials";
    case ModelKind::kBlend: return "blend";
  }
  return "?";
}

Result<ModelKind> ParseModelKind(std::string_view name) {
  for (ModelKind kind : {ModelKind::kPopular, ModelKind::kItemKnn, ModelKind::kEase,
                         ModelKind::kIals, ModelKind::kBlend}) {
    if (name == ModelName(kind)) return kind;
  }
  return Status::InvalidArgument("unknown model \"" + std::string(name) +
                                 "\" (expected ease, ials, blend, itemknn or popular)");
}

namespace {

constexpr double kMaxLambda = 1e7;

Result<double> ParseNumber(const std::string& name, const std::string& text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    return Status::InvalidArgument("parameter " + name + "=" + text + " is not a number");
  }
  return v;
}

Status IntegerIn(const std::string& name, double v, double lo, double hi) {
  if (v < lo || v > hi || v != std::floor(v)) {
    return Status::InvalidArgument("parameter " + name + " must be an integer in [" +
                                   std::to_string(static_cast<int64_t>(lo)) + ", " +
                                   std::to_string(static_cast<int64_t>(hi)) + "]");
  }
  return Status::Ok();
}

Status InRange(const std::string& name, double v, double lo, double hi) {
  if (v < lo || v > hi) {
    char range[64];
    std::snprintf(range, sizeof(range), "[%g, %g]", lo, hi);
    return Status::InvalidArgument("parameter " + name + " must be in " + range);
  }
  return Status::Ok();
}

Status Positive(const std::string& name, double v) {
  if (v <= 0) return Status::InvalidArgument("parameter " + name + " must be > 0");
  return Status::Ok();
}

// The ials parameters but λ; false when `name` is none of them.
Result<bool> ApplyIalsParameter(const std::string& name, double v, IalsOptions* o) {
  if (name == "factors") {
    PROFILED_RETURN_IF_ERROR(IntegerIn(name, v, 1, 4096));
    o->factors = static_cast<int32_t>(v);
  } else if (name == "alpha0") {
    if (v < 0) return Status::InvalidArgument("parameter alpha0 must be ≥ 0");
    o->alpha0 = v;
  } else if (name == "reg_exponent") {
    PROFILED_RETURN_IF_ERROR(InRange(name, v, 0, 4));
    o->reg_exponent = v;
  } else if (name == "epochs") {
    PROFILED_RETURN_IF_ERROR(IntegerIn(name, v, 1, 1000));
    o->epochs = static_cast<int32_t>(v);
  } else if (name == "seed") {
    PROFILED_RETURN_IF_ERROR(IntegerIn(name, v, 0, 9007199254740992.0));  // 2^53: exact
    o->seed = static_cast<uint64_t>(v);
  } else {
    return false;
  }
  return true;
}

// The ease parameters, λ named `lambda_name`; false when `name` is none of them.
Result<bool> ApplyEaseParameter(const std::string& name, const char* lambda_name, double v,
                                ModelOptions* o) {
  if (name == lambda_name) {
    // Far above any useful λ (it is weighed against interaction counts), and low enough
    // that P = (XᵀX + λI)⁻¹, about 1/λ, stays well inside float's range.
    if (v <= 0 || v > kMaxLambda) {
      return Status::InvalidArgument("parameter " + name + " must be in (0, 10000000]");
    }
    o->lambda = v;
  } else if (name == "popularity_exponent") {
    PROFILED_RETURN_IF_ERROR(InRange(name, v, 0, 2));
    o->popularity_exponent = v;
  } else if (name == "max_items") {
    PROFILED_RETURN_IF_ERROR(IntegerIn(name, v, 1, 1e6));
    o->max_dense_items = static_cast<int32_t>(v);
  } else {
    return false;
  }
  return true;
}

// One parameter of o->kind; false when that model has no parameter `name`.
Result<bool> ApplyParameter(const std::string& name, double v, ModelOptions* o) {
  switch (o->kind) {
    case ModelKind::kPopular: return false;
    case ModelKind::kItemKnn:
      if (name != "neighbours") return false;
      PROFILED_RETURN_IF_ERROR(IntegerIn(name, v, 1, 1e6));
      o->neighbours = static_cast<int32_t>(v);
      return true;
    case ModelKind::kEase: return ApplyEaseParameter(name, "lambda", v, o);
    case ModelKind::kIals:
      if (name == "lambda") {
        PROFILED_RETURN_IF_ERROR(Positive(name, v));
        o->ials.lambda = v;
        return true;
      }
      return ApplyIalsParameter(name, v, &o->ials);
    case ModelKind::kBlend: {
      if (name == "ials_lambda") {
        PROFILED_RETURN_IF_ERROR(Positive(name, v));
        o->ials.lambda = v;
        return true;
      }
      if (name == "ials_weight") {
        PROFILED_RETURN_IF_ERROR(InRange(name, v, 0, 1));
        o->ials_weight = v;
        return true;
      }
      Result<bool> ease = ApplyEaseParameter(name, "ease_lambda", v, o);
      if (!ease.ok() || *ease) return ease;
      return ApplyIalsParameter(name, v, &o->ials);
    }
  }
  return false;
}

std::string_view ParameterNames(ModelKind kind) {
  switch (kind) {
    case ModelKind::kPopular: return "none";
    case ModelKind::kItemKnn: return "neighbours";
    case ModelKind::kEase: return "lambda, popularity_exponent, max_items";
    case ModelKind::kIals: return "factors, alpha0, lambda, reg_exponent, epochs, seed";
    case ModelKind::kBlend:
      return "ease_lambda, popularity_exponent, max_items, factors, alpha0, ials_lambda, "
             "reg_exponent, epochs, seed, ials_weight";
  }
  return "none";
}

}  // namespace

Result<double> ParameterIn(const std::string& name, const std::string& text, double lo, double hi) {
  Result<double> v = ParseNumber(name, text);
  if (!v.ok()) return v.status();
  PROFILED_RETURN_IF_ERROR(InRange(name, *v, lo, hi));
  return *v;
}

ModelOptions DefaultModelOptions(ModelKind kind) {
  ModelOptions options;
  options.kind = kind;
  if (kind == ModelKind::kBlend) {
    options.popularity_exponent = 0.25;
    options.ials.factors = 128;
    options.ials_weight = 0.7;
  }
  return options;
}

Result<ModelOptions> ModelOptionsFrom(
    ModelKind kind, const std::vector<std::pair<std::string, std::string>>& params) {
  ModelOptions options = DefaultModelOptions(kind);
  for (const auto& [name, text] : params) {
    Result<double> v = ParseNumber(name, text);
    if (!v.ok()) return v.status();
    Result<bool> applied = ApplyParameter(name, *v, &options);
    if (!applied.ok()) return applied.status();
    if (!*applied) {
      return Status::InvalidArgument(
          "model " + std::string(ModelName(kind)) + " has no parameter \"" + name +
          "\" (its parameters: " + std::string(ParameterNames(kind)) + ")");
    }
  }
  return options;
}

Result<std::unique_ptr<ItemModel>> TrainModel(const ModelOptions& options,
                                              const Interactions& data) {
  try {
    switch (options.kind) {
      case ModelKind::kPopular: return std::unique_ptr<ItemModel>(PopularModel::Train(data));
      case ModelKind::kItemKnn:
        if (options.neighbours < 1) {
          return Status::InvalidArgument("itemknn: neighbours must be ≥ 1");
        }
        return std::unique_ptr<ItemModel>(ItemKnnModel::Train(data, options.neighbours));
      case ModelKind::kEase: {
        Result<std::unique_ptr<EaseModel>> ease =
            EaseModel::Train(data, options.lambda, options.max_dense_items, EaseModel::Form::kAuto,
                             options.popularity_exponent);
        if (!ease.ok()) return ease.status();
        return std::unique_ptr<ItemModel>(std::move(ease.value()));
      }
      case ModelKind::kIals: {
        Result<std::unique_ptr<IalsModel>> ials = IalsModel::Train(data, options.ials);
        if (!ials.ok()) return ials.status();
        return std::unique_ptr<ItemModel>(std::move(ials.value()));
      }
      case ModelKind::kBlend: {
        Result<std::unique_ptr<BlendModel>> blend = BlendModel::Train(data, options);
        if (!blend.ok()) return blend.status();
        return std::unique_ptr<ItemModel>(std::move(blend.value()));
      }
    }
  } catch (const std::bad_alloc&) {
    return Status::Internal(std::string(ModelName(options.kind)) + ": out of memory");
  }
  return Status::InvalidArgument("unknown model kind");
}

std::vector<ScoredItem> TopItems(std::span<const float> scores, std::span<const uint8_t> excluded,
                                 size_t n) {
  std::vector<ScoredItem> candidates;
  candidates.reserve(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    if (excluded[i] == 0) candidates.push_back({static_cast<int32_t>(i), scores[i]});
  }
  auto better = [](const ScoredItem& a, const ScoredItem& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  };
  n = std::min(n, candidates.size());
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(n),
                    candidates.end(), better);
  candidates.resize(n);
  return candidates;
}

Result<std::vector<ScoredItem>> Recommend(const ItemModel& model, std::span<const int32_t> history,
                                          std::span<const int32_t> exclude, size_t n) {
  const int32_t items = model.num_items();
  std::vector<uint8_t> excluded(static_cast<size_t>(items), 0);
  for (std::span<const int32_t> list : {history, exclude}) {
    for (int32_t i : list) {
      if (i < 0 || i >= items) {
        return Status::InvalidArgument("item " + std::to_string(i) + " is outside the model's " +
                                       std::to_string(items) + " items");
      }
      excluded[static_cast<size_t>(i)] = 1;
    }
  }
  std::vector<float> scores(static_cast<size_t>(items));
  model.Score(history, scores);
  return TopItems(scores, excluded, n);
}

}  // namespace profiled::recs
