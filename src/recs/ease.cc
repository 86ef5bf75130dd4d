#include "recs/ease.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <new>
#include <string>

#include "core/coding.h"

namespace profiled::recs {

namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using FloatMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

// P = (XᵀX + λI)⁻¹ through a Cholesky of the m × m Gram matrix. Only the lower triangle of
// the result is meant to be read (P is symmetric).
Status InversePrimal(const Interactions& data, const std::vector<int32_t>& compact, int32_t m,
                     double lambda, FloatMatrix* p) {
  Matrix g = Matrix::Zero(m, m);
  // XᵀX from the sparse rows: each user adds one to every pair of their items. The cost is
  // Σ|items of u|², far below a dense product when X is sparse.
  std::vector<int32_t> row;
  for (int32_t u = 0; u < data.num_users(); ++u) {
    row.clear();
    for (int32_t i : data.items_of(u)) row.push_back(compact[static_cast<size_t>(i)]);
    for (size_t a = 0; a < row.size(); ++a) {
      for (size_t b = 0; b <= a; ++b) g(row[a], row[b]) += 1.0;  // row is ascending: lower
    }
  }
  g.diagonal().array() += lambda;
  Eigen::LLT<Matrix, Eigen::Lower> llt(g);
  if (llt.info() != Eigen::Success) return Status::Internal("ease: Cholesky of XᵀX + λI failed");
  *p = llt.solve(Matrix::Identity(m, m)).cast<float>();
  return Status::Ok();
}

// The same P through the Woodbury identity (see ease.h), for data with fewer users than items.
// The m × m update, nearly all of the work, runs in float, twice as fast as double on the same
// SIMD width; the small Cholesky and the solve for Y stay in double. The diagonal
// 1 − ‖y_i‖² is at least λ / (λ + count of i), far above float's rounding for any useful λ.
Status InverseDual(const Interactions& data, const std::vector<int32_t>& compact, int32_t m,
                   double lambda, FloatMatrix* p) {
  const int32_t users = data.num_users();
  Matrix x = Matrix::Zero(users, m);
  for (int32_t u = 0; u < users; ++u) {
    for (int32_t i : data.items_of(u)) x(u, compact[static_cast<size_t>(i)]) = 1.0;
  }
  Matrix k = Matrix::Zero(users, users);
  k.selfadjointView<Eigen::Lower>().rankUpdate(x);
  k.diagonal().array() += lambda;
  Eigen::LLT<Matrix, Eigen::Lower> llt(k);
  if (llt.info() != Eigen::Success) return Status::Internal("ease: Cholesky of XXᵀ + λI failed");
  llt.matrixL().solveInPlace(x);  // x is now Y = L⁻¹X
  FloatMatrix y_t = x.transpose().cast<float>();
  x.resize(0, 0);
  *p = FloatMatrix::Identity(m, m);
  p->selfadjointView<Eigen::Lower>().rankUpdate(y_t, -1.0F);
  *p /= static_cast<float>(lambda);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<EaseModel>> EaseModel::Train(const Interactions& data, double lambda,
                                                    int32_t max_dense_items, Form form,
                                                    double popularity_exponent) {
  if (!(lambda > 0) || !std::isfinite(lambda)) {
    return Status::InvalidArgument("ease: lambda must be a positive number");
  }
  if (!(popularity_exponent >= 0) || popularity_exponent > 2) {
    return Status::InvalidArgument("ease: popularity_exponent must be in [0, 2]");
  }
  auto model = std::make_unique<EaseModel>();
  const int32_t n = data.num_items();
  model->num_items_ = n;
  model->compact_.assign(static_cast<size_t>(n), -1);
  for (int32_t i = 0; i < n; ++i) {
    if (data.item_counts()[static_cast<size_t>(i)] == 0) continue;
    model->compact_[static_cast<size_t>(i)] = static_cast<int32_t>(model->trained_.size());
    model->trained_.push_back(i);
  }
  const int32_t m = model->trained_items();
  if (m > max_dense_items) {
    return Status::InvalidArgument("ease: " + std::to_string(m) +
                                   " items have interactions, above the limit of " +
                                   std::to_string(max_dense_items) + " for a dense model");
  }
  if (m == 0) return model;

  if (form == Form::kAuto) form = data.num_users() < m ? Form::kDual : Form::kPrimal;
  // Eigen reports a failed allocation with std::bad_alloc; it must not leave this layer.
  try {
    FloatMatrix p;
    Status s = form == Form::kDual ? InverseDual(data, model->compact_, m, lambda, &p)
                                   : InversePrimal(data, model->compact_, m, lambda, &p);
    if (!s.ok()) return s;
    // B_ij = −P_ij / P_jj from the lower triangle of the symmetric P, written row-major.
    model->weights_.assign(static_cast<size_t>(m) * static_cast<size_t>(m), 0.0F);
    float* w = model->weights_.data();
    // −1 / P_jj, times the popularity debiasing c_j^−β of column j (c_j ≥ 1: j is trained).
    std::vector<double> minus_inv_diag(static_cast<size_t>(m));
    for (int32_t j = 0; j < m; ++j) {
      const double count =
          data.item_counts()[static_cast<size_t>(model->trained_[static_cast<size_t>(j)])];
      minus_inv_diag[static_cast<size_t>(j)] =
          -std::pow(count, -popularity_exponent) / static_cast<double>(p(j, j));
    }
    for (int32_t j = 0; j < m; ++j) {
      for (int32_t i = j + 1; i < m; ++i) {
        // P_ij = P_ji = p(i, j) (lower triangle, i > j).
        const double pij = p(i, j);
        w[static_cast<size_t>(i) * m + j] =
            static_cast<float>(pij * minus_inv_diag[static_cast<size_t>(j)]);
        w[static_cast<size_t>(j) * m + i] =
            static_cast<float>(pij * minus_inv_diag[static_cast<size_t>(i)]);
      }
    }
  } catch (const std::bad_alloc&) {
    return Status::Internal("ease: out of memory for " + std::to_string(m) + " items");
  }
  // A λ at an extreme of double's range makes P underflow or overflow float (B = −P/P_jj then
  // divides 0 by 0): such a model would rank by NaN, so it is no model.
  if (!std::all_of(model->weights_.begin(), model->weights_.end(),
                   [](float w) { return std::isfinite(w); })) {
    return Status::Internal("ease: the weights of lambda " + std::to_string(lambda) +
                            " are not all finite numbers");
  }
  return model;
}

float EaseModel::weight(int32_t from, int32_t to) const {
  int32_t a = compact_[static_cast<size_t>(from)];
  int32_t b = compact_[static_cast<size_t>(to)];
  if (a < 0 || b < 0) return 0.0F;
  return weights_[static_cast<size_t>(a) * trained_.size() + static_cast<size_t>(b)];
}

void EaseModel::Score(std::span<const int32_t> history, std::span<float> scores) const {
  std::fill(scores.begin(), scores.end(), 0.0F);
  const size_t m = trained_.size();
  if (m == 0) return;
  // Sum the history's rows in compact space (contiguous rows, vectorised adds), then scatter.
  std::vector<float> sum(m, 0.0F);
  for (int32_t i : history) {
    int32_t c = compact_[static_cast<size_t>(i)];
    if (c < 0) continue;
    const float* row = weights_.data() + static_cast<size_t>(c) * m;
    for (size_t j = 0; j < m; ++j) sum[j] += row[j];
  }
  for (size_t j = 0; j < m; ++j) scores[static_cast<size_t>(trained_[j])] = sum[j];
}

namespace {

// out[k] += Σ_s slices[s][k], each out[k] summed in slice order. The rows are scattered over
// the matrix, so the next group's slices are fetched while this group is summed (each would
// otherwise start with a full memory latency). Inlined into each instruction-set variant.
[[gnu::always_inline]] inline void SumSlicesBody(std::span<const float* const> slices,
                                                 std::span<float> out) {
  float* __restrict o = out.data();
  const size_t n = out.size();
  for (size_t first = 0; first < std::min<size_t>(4, slices.size()); ++first) {
    for (size_t k = 0; k < n; k += 16) __builtin_prefetch(slices[first] + k);
  }
  size_t s = 0;
  for (; s + 4 <= slices.size(); s += 4) {
    for (size_t next = s + 4; next < std::min(s + 8, slices.size()); ++next) {
      for (size_t k = 0; k < n; k += 16) __builtin_prefetch(slices[next] + k);
    }
    const float* __restrict a = slices[s];
    const float* __restrict b = slices[s + 1];
    const float* __restrict c = slices[s + 2];
    const float* __restrict d = slices[s + 3];
    for (size_t k = 0; k < n; ++k) o[k] = (((o[k] + a[k]) + b[k]) + c[k]) + d[k];
  }
  for (; s < slices.size(); ++s) {
    const float* __restrict a = slices[s];
    for (size_t k = 0; k < n; ++k) o[k] += a[k];
  }
}

void SumSlicesPortable(std::span<const float* const> slices, std::span<float> out) {
  SumSlicesBody(slices, out);
}

#if defined(__x86_64__)
// The same sums, 8 floats per instruction. The build targets baseline x86-64, so this variant
// is chosen at run time; additions only (no FMA), so its results are bit-identical.
[[gnu::target("avx2")]] void SumSlicesAvx2(std::span<const float* const> slices,
                                           std::span<float> out) {
  SumSlicesBody(slices, out);
}
#endif

void SumSlices(std::span<const float* const> slices, std::span<float> out) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return SumSlicesAvx2(slices, out);
#endif
  SumSlicesPortable(slices, out);
}

}  // namespace

void EaseModel::ScoreItems(std::span<const int32_t> history, std::span<const int32_t> items,
                           std::span<float> out) const {
  std::fill(out.begin(), out.end(), 0.0F);
  const size_t m = trained_.size();
  if (m == 0 || items.empty()) return;
  // The candidates' columns of B; when they are one ascending run (the top-n of a serving model,
  // whose items are indexed by popularity), each history row is read as one contiguous slice
  // that the compiler vectorises, else gathered column by column. Sums run in Score's order, so
  // each result is bit-identical to Score's. When every item took part in training (a serving
  // model's always do), the compact index is the item itself and needs no lookup.
  const bool identity = m == static_cast<size_t>(num_items_);
  thread_local std::vector<int32_t> columns;
  bool run = true;
  if (identity) {
    for (size_t k = 0; k < items.size(); ++k) {
      run = run && items[k] == items[0] + static_cast<int32_t>(k);
    }
  }
  if (!identity || !run) {
    columns.resize(items.size());
    run = true;
    for (size_t k = 0; k < items.size(); ++k) {
      columns[k] = compact_[static_cast<size_t>(items[k])];
      run = run && columns[k] >= 0 && columns[k] == columns[0] + static_cast<int32_t>(k);
    }
  }
  const int32_t first = identity && run ? items[0] : columns[0];
  if (run) {
    // The history rows' slices, summed four at a time in Score's order (out + r0 + r1 + r2 +
    // r3, left to right, so each result stays bit-identical to Score's): out is loaded and
    // stored once per four rows instead of once per row.
    thread_local std::vector<const float*> slices;
    slices.clear();
    for (int32_t item : history) {
      int32_t c = compact_[static_cast<size_t>(item)];
      if (c >= 0) slices.push_back(weights_.data() + static_cast<size_t>(c) * m + first);
    }
    SumSlices(slices, out);
    return;
  }
  for (int32_t item : history) {
    int32_t c = compact_[static_cast<size_t>(item)];
    if (c < 0) continue;
    const float* row = weights_.data() + static_cast<size_t>(c) * m;
    for (size_t k = 0; k < out.size(); ++k) {
      if (columns[k] >= 0) out[k] += row[columns[k]];
    }
  }
}

void EaseModel::AppendTo(std::string* out) const {
  PutVarint64(out, static_cast<uint64_t>(num_items_));
  PutVarint64(out, trained_.size());
  PutArrayLE(out, std::span<const int32_t>(trained_));
  PutArrayLE(out, std::span<const float>(weights_.data(), weights_.size()));
}

Result<std::unique_ptr<EaseModel>> EaseModel::DecodeFrom(std::string_view* in, int32_t num_items) {
  auto truncated = [] { return Status::Corruption("ease model: truncated"); };
  uint64_t n = 0;
  uint64_t m = 0;
  if (!GetVarint64(in, &n) || !GetVarint64(in, &m)) return truncated();
  if (n != static_cast<uint64_t>(num_items)) {
    return Status::Corruption("ease model over " + std::to_string(n) + " items, expected " +
                              std::to_string(num_items));
  }
  if (m > n) {
    return Status::Corruption("ease model: " + std::to_string(m) + " trained items of " +
                              std::to_string(n));
  }
  try {
    auto model = std::make_unique<EaseModel>();
    model->num_items_ = num_items;
    if (!HasArrayLE<int32_t>(*in, m)) return truncated();
    model->trained_.resize(m);
    (void)GetArrayLE(in, std::span<int32_t>(model->trained_));
    // Ascending like Train's: ScoreItems reads m == num_items as "trained_ is the identity".
    model->compact_.assign(n, -1);
    int64_t previous = -1;
    for (size_t c = 0; c < m; ++c) {
      const int32_t item = model->trained_[c];
      if (item <= previous || item >= num_items) {
        return Status::Corruption("ease model: trained item " + std::to_string(item) +
                                  " out of order or not below " + std::to_string(num_items));
      }
      model->compact_[static_cast<size_t>(item)] = static_cast<int32_t>(c);
      previous = item;
    }
    if (!HasArrayLE<float>(*in, m * m)) return truncated();
    model->weights_.resize(m * m);
    (void)GetArrayLE(in, std::span<float>(model->weights_.data(), model->weights_.size()));
    return model;
  } catch (const std::bad_alloc&) {
    return Status::Internal("ease: out of memory decoding a model of " + std::to_string(m) +
                            " items");
  }
}

}  // namespace profiled::recs
