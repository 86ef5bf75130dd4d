#include "recs/evidence_ease.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <new>
#include <string>
#include <utility>

namespace profiled::recs {

namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using Vector = Eigen::Matrix<double, Eigen::Dynamic, 1>;

// One nonzero of A = X D: the row (in a column list) or the item (in a row list) and A's value.
struct Entry {
  int32_t index = 0;
  double value = 0;
};

Status ValidateOptions(const EvidenceEaseOptions& o) {
  // Written as !(in range) so that NaN fails too.
  if (!(o.lambda > 0 && o.lambda <= 1e7)) {
    return Status::InvalidArgument("evidence: lambda must be in (0, 1e7], not " +
                                   std::to_string(o.lambda));
  }
  if (!(o.emphasis >= 0 && o.emphasis <= 100)) {
    return Status::InvalidArgument("evidence: emphasis must be in [0, 100], not " +
                                   std::to_string(o.emphasis));
  }
  if (!(o.popularity_exponent >= 0 && o.popularity_exponent <= 2)) {
    return Status::InvalidArgument("evidence: popularity_exponent must be in [0, 2], not " +
                                   std::to_string(o.popularity_exponent));
  }
  return Status::Ok();
}

Status ValidateInputs(int32_t m, std::span<const std::vector<WeightedItem>> inputs) {
  // seen[j] == u + 1 when row u named j already: one pass per row, no clearing.
  std::vector<int32_t> seen(static_cast<size_t>(m), 0);
  for (size_t u = 0; u < inputs.size(); ++u) {
    for (const WeightedItem& w : inputs[u]) {
      if (w.item < 0 || w.item >= m) {
        return Status::InvalidArgument("evidence: input row " + std::to_string(u) + " names item " +
                                       std::to_string(w.item) + ", outside [0, " +
                                       std::to_string(m) + ")");
      }
      if (!std::isfinite(w.weight)) {
        return Status::InvalidArgument("evidence: input row " + std::to_string(u) + " gives item " +
                                       std::to_string(w.item) +
                                       " a weight that is not a finite number");
      }
      int32_t& mark = seen[static_cast<size_t>(w.item)];
      if (mark == static_cast<int32_t>(u) + 1) {
        return Status::InvalidArgument("evidence: input row " + std::to_string(u) +
                                       " repeats item " + std::to_string(w.item));
      }
      mark = static_cast<int32_t>(u) + 1;
    }
  }
  return Status::Ok();
}

}  // namespace

struct EvidenceEaseModel::State {
  int32_t num_items = 0;
  int32_t num_rows = 0;
  std::vector<double> d;  // D_j = Λ_j^−1/2
  // A = X D by row: row u's entries are rows_[row_start[u] .. row_start[u + 1]).
  std::vector<int64_t> row_start;
  std::vector<Entry> rows;
  Matrix k_inverse;  // K⁻¹, symmetric (both triangles filled)
  std::vector<int64_t> target_start;
  std::vector<int32_t> target_items;  // Y by row, like rows
  // D_j γ_j: qP_j γ_j = (q∘D − Aᵀz)_j · D_j γ_j, so scoring needs only this product.
  std::vector<double> d_gamma;
  std::vector<double> debias;  // c_j^−β
};

EvidenceEaseModel::EvidenceEaseModel(std::unique_ptr<State> state) : state_(std::move(state)) {}
EvidenceEaseModel::~EvidenceEaseModel() = default;

int32_t EvidenceEaseModel::num_items() const { return state_->num_items; }

Result<std::unique_ptr<EvidenceEaseModel>> EvidenceEaseModel::Train(
    const Interactions& targets, std::span<const std::vector<WeightedItem>> inputs,
    const EvidenceEaseOptions& options) {
  PROFILED_RETURN_IF_ERROR(ValidateOptions(options));
  const int32_t n = targets.num_users();
  const int32_t m = targets.num_items();
  if (inputs.size() != static_cast<size_t>(n)) {
    return Status::InvalidArgument("evidence: " + std::to_string(inputs.size()) +
                                   " input rows for " + std::to_string(n) + " target rows");
  }
  if (n > kMaxEvidenceRows) {
    return Status::InvalidArgument("evidence: " + std::to_string(n) +
                                   " training rows, above the limit of " +
                                   std::to_string(kMaxEvidenceRows));
  }
  PROFILED_RETURN_IF_ERROR(ValidateInputs(m, inputs));

  // Eigen and the vectors report a failed allocation with std::bad_alloc; it must not leave
  // this layer.
  try {
    auto s = std::make_unique<State>();
    const auto mm = static_cast<size_t>(m);
    s->num_items = m;
    s->num_rows = n;

    std::vector<double> sum_squares(mm, 0.0);  // d_j
    std::vector<int64_t> column_count(mm, 0);
    for (const std::vector<WeightedItem>& row : inputs) {
      for (const WeightedItem& w : row) {
        sum_squares[static_cast<size_t>(w.item)] +=
            static_cast<double>(w.weight) * static_cast<double>(w.weight);
        ++column_count[static_cast<size_t>(w.item)];
      }
    }
    s->d.resize(mm);
    for (size_t j = 0; j < mm; ++j) {
      s->d[j] = 1.0 / std::sqrt(options.lambda + options.emphasis * sum_squares[j]);
    }

    // A by row (for scoring) and by column (for K: each item adds A_uj A_vj to K_uv for every
    // pair of its rows, Σ_j count_j² in all, never more than n · nnz(X)).
    s->row_start.assign(static_cast<size_t>(n) + 1, 0);
    std::vector<int64_t> column_start(mm + 1, 0);
    for (size_t j = 0; j < mm; ++j) column_start[j + 1] = column_start[j] + column_count[j];
    std::vector<Entry> columns(static_cast<size_t>(column_start[mm]));
    std::vector<int64_t> column_fill(column_start.begin(), column_start.end() - 1);
    s->rows.reserve(columns.size());
    for (int32_t u = 0; u < n; ++u) {
      for (const WeightedItem& w : inputs[static_cast<size_t>(u)]) {
        const double a = static_cast<double>(w.weight) * s->d[static_cast<size_t>(w.item)];
        s->rows.push_back({w.item, a});
        columns[static_cast<size_t>(column_fill[static_cast<size_t>(w.item)]++)] = {u, a};
      }
      s->row_start[static_cast<size_t>(u) + 1] = static_cast<int64_t>(s->rows.size());
    }

    // K = A Aᵀ + I, lower triangle (a column's rows are ascending: u was filled in order).
    Matrix k = Matrix::Identity(n, n);
    for (size_t j = 0; j < mm; ++j) {
      const Entry* first = columns.data() + column_start[j];
      const Entry* last = columns.data() + column_start[j + 1];
      for (const Entry* p = first; p != last; ++p) {
        for (const Entry* q = first; q <= p; ++q) k(p->index, q->index) += p->value * q->value;
      }
    }
    // K ⪰ I bounds K⁻¹ (‖K⁻¹‖ ≤ 1), so forming it is safe; keeping K⁻¹ rather than the factor
    // turns each P_jj and M_jj below into a sparse quadratic form over j's rows, where solves
    // would cost n² per item. Factorised in place: 2 n² doubles at the peak.
    {
      // K ⪰ I is positive definite; only a λ so small that A's entries x/√Λ_j dwarf the I (or
      // square past double's range) can make the factorisation fail.
      const bool finite = k.allFinite();
      Eigen::LLT<Eigen::Ref<Matrix>, Eigen::Lower> llt(k);
      if (!finite || llt.info() != Eigen::Success) {
        return Status::InvalidArgument("evidence: lambda " + std::to_string(options.lambda) +
                                       " is too small for the inputs' weights (the Cholesky "
                                       "of A Aᵀ + I fails)");
      }
      s->k_inverse = Matrix::Identity(n, n);
      llt.solveInPlace(s->k_inverse);
    }
    k.resize(0, 0);
    Matrix& ki = s->k_inverse;
    for (int32_t c = 0; c < n; ++c) {  // symmetric up to rounding; made exactly so
      for (int32_t r = c + 1; r < n; ++r) ki(r, c) = ki(c, r) = 0.5 * (ki(r, c) + ki(c, r));
    }

    s->target_start.assign(static_cast<size_t>(n) + 1, 0);
    s->target_items.reserve(static_cast<size_t>(targets.size()));
    // The target rows of each item, for M_jj = D_j a_jᵀ K⁻¹ y_j.
    std::vector<int64_t> target_column_start(mm + 1, 0);
    for (size_t j = 0; j < mm; ++j) {
      target_column_start[j + 1] = target_column_start[j] + targets.item_counts()[j];
    }
    std::vector<int32_t> target_columns(static_cast<size_t>(target_column_start[mm]));
    std::vector<int64_t> target_fill(target_column_start.begin(), target_column_start.end() - 1);
    for (int32_t u = 0; u < n; ++u) {
      for (int32_t j : targets.items_of(u)) {
        s->target_items.push_back(j);
        target_columns[static_cast<size_t>(target_fill[static_cast<size_t>(j)]++)] = u;
      }
      s->target_start[static_cast<size_t>(u) + 1] = static_cast<int64_t>(s->target_items.size());
    }

    s->d_gamma.resize(mm);
    s->debias.resize(mm);
    for (size_t j = 0; j < mm; ++j) {
      const Entry* first = columns.data() + column_start[j];
      const Entry* last = columns.data() + column_start[j + 1];
      double a_ki_a = 0;  // a_jᵀ K⁻¹ a_j
      for (const Entry* p = first; p != last; ++p) {
        double row_sum = 0;
        for (const Entry* q = first; q != last; ++q) row_sum += ki(q->index, p->index) * q->value;
        a_ki_a += p->value * row_sum;
      }
      double a_ki_y = 0;  // a_jᵀ K⁻¹ y_j
      for (int64_t t = target_column_start[j]; t < target_column_start[j + 1]; ++t) {
        const int32_t v = target_columns[static_cast<size_t>(t)];
        for (const Entry* p = first; p != last; ++p) a_ki_y += p->value * ki(p->index, v);
      }
      const double dj = s->d[j];
      const double p_jj = dj * dj * (1.0 - a_ki_a);
      const double m_jj = dj * a_ki_y;
      // P = (XᵀX + Λ)⁻¹ is positive definite, so P_jj > 0, and 1 − a_ki_a = Λ_j·P_jj is at
      // least Λ_j / (Λ_j + d_j) (as K ⪰ a_j a_jᵀ + I). A λ far below the inputs' squared
      // weights can bring it near 0, where its cancellation leaves too few correct digits for
      // γ_j: refused below 1e-7, which no item with d_j < 10⁷·Λ_j can reach.
      if (!(1.0 - a_ki_a > 1e-7) || !std::isfinite(p_jj)) {
        return Status::InvalidArgument("evidence: lambda " + std::to_string(options.lambda) +
                                       " is too small for the inputs' weights (item " +
                                       std::to_string(j) + " loses its precision)");
      }
      s->d_gamma[j] = dj * (m_jj / p_jj);
      const double count = std::max(1, targets.item_counts()[j]);
      s->debias[j] = std::pow(count, -options.popularity_exponent);
    }
    if (!s->k_inverse.allFinite() || !std::all_of(s->d_gamma.begin(), s->d_gamma.end(),
                                                  [](double g) { return std::isfinite(g); })) {
      return Status::Internal("evidence: the model of lambda " + std::to_string(options.lambda) +
                              " has weights that are not finite numbers");
    }
    return std::unique_ptr<EvidenceEaseModel>(new EvidenceEaseModel(std::move(s)));
  } catch (const std::bad_alloc&) {
    return Status::Internal("evidence: out of memory for " + std::to_string(n) + " rows and " +
                            std::to_string(m) + " items");
  }
}

void EvidenceEaseModel::Score(std::span<const WeightedItem> evidence,
                              std::span<float> scores) const {
  const State& s = *state_;
  const auto mm = static_cast<size_t>(s.num_items);
  const int32_t n = s.num_rows;
  // q∘D, dense: both A(q∘D) and qP read it.
  std::vector<double> qd(mm, 0.0);
  for (const WeightedItem& w : evidence) {
    qd[static_cast<size_t>(w.item)] =
        static_cast<double>(w.weight) * s.d[static_cast<size_t>(w.item)];
  }
  Vector b(n);  // A (q∘D)
  for (int32_t u = 0; u < n; ++u) {
    double sum = 0;
    for (int64_t e = s.row_start[static_cast<size_t>(u)];
         e < s.row_start[static_cast<size_t>(u) + 1]; ++e) {
      const Entry& a = s.rows[static_cast<size_t>(e)];
      sum += a.value * qd[static_cast<size_t>(a.index)];
    }
    b[u] = sum;
  }
  const Vector z = s.k_inverse * b;
  // qM = Yᵀz and Aᵀz, accumulated row by row into one vector as qM − (q∘D − Aᵀz)∘D∘γ:
  // s_j = qM_j − qd_j D_j γ_j + (Aᵀz)_j D_j γ_j.
  std::vector<double> out(mm, 0.0);
  for (int32_t u = 0; u < n; ++u) {
    const double zu = z[u];
    if (zu == 0) continue;
    for (int64_t t = s.target_start[static_cast<size_t>(u)];
         t < s.target_start[static_cast<size_t>(u) + 1]; ++t) {
      out[static_cast<size_t>(s.target_items[static_cast<size_t>(t)])] += zu;
    }
    for (int64_t e = s.row_start[static_cast<size_t>(u)];
         e < s.row_start[static_cast<size_t>(u) + 1]; ++e) {
      const Entry& a = s.rows[static_cast<size_t>(e)];
      out[static_cast<size_t>(a.index)] += a.value * zu * s.d_gamma[static_cast<size_t>(a.index)];
    }
  }
  for (size_t j = 0; j < mm; ++j) {
    scores[j] = static_cast<float>((out[j] - qd[j] * s.d_gamma[j]) * s.debias[j]);
  }
}

}  // namespace profiled::recs
