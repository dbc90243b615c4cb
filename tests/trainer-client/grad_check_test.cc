// Finite-difference checks of every op's backward and of the whole model.
//
// Method: for an op y = f(x), take L = sum(y * r) for a fixed random r, so dL/dy = r is what the
// backward receives. The analytic dL/dx from the backward is compared with the central
// difference (L(x + h) - L(x - h)) / 2h, with L summed in double from fp32 outputs.
// Tolerance, for fp32 with h = 1e-2: |analytic - numeric| <= 2e-3 + 1e-2 * |numeric|. The
// truncation error is O(h^2) and rounding in L is ~1e-7 * |L| / h; a wrong backward (a missing
// term, a wrong sign, a transposed index) is off by O(|gradient|), far above this.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <set>

#ifdef _OPENMP
#include <omp.h>
#endif
#include <vector>

#include "tests/trainer-client/policy_test_util.h"
#include "trainer-client/policy/cpu_ops.h"

namespace rock::policy {
namespace {

using testing::RandomVector;
using testing::RandomTokens;

constexpr float kStep = 1e-2f;
constexpr double kAbsTol = 2e-3;
constexpr double kRelTol = 1e-2;

double Dot(const std::vector<float>& y, const std::vector<float>& r) {
  double s = 0.0;
  for (size_t i = 0; i < y.size(); i++) s += static_cast<double>(y[i]) * r[i];
  return s;
}

// (loss(x + h) - loss(x - h)) / 2h in coordinate x, which loss() reads; x is restored.
double CentralDifference(float& x, const std::function<double()>& loss) {
  const float saved = x;
  x = saved + kStep;
  const double up = loss();
  x = saved - kStep;
  const double down = loss();
  x = saved;
  return (up - down) / (2.0 * static_cast<double>(kStep));
}

// Compares analytic with the central difference of loss() in every coordinate of x.
void ExpectGradient(const char* what, std::vector<float>& x, const std::vector<float>& analytic,
                    const std::function<double()>& loss) {
  ASSERT_EQ(x.size(), analytic.size());
  int bad = 0;
  double max_abs = 0.0;
  for (size_t i = 0; i < x.size(); i++) {
    const double numeric = CentralDifference(x[i], loss);
    max_abs = std::max(max_abs, std::abs(numeric));
    if (std::abs(analytic[i] - numeric) > kAbsTol + kRelTol * std::abs(numeric) && bad++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic[i] << " numeric " << numeric;
    }
  }
  EXPECT_EQ(bad, 0) << what;
  // A gradient that is all zero would pass trivially; the random setups make it large.
  EXPECT_GT(max_abs, 0.05) << what << " gradient too small to test anything";
}

TEST(GradCheck, RmsNorm) {
  const int N = 3, C = 8;
  std::vector<float> x = RandomVector(N * C, 1), w = RandomVector(C, 2), r = RandomVector(N * C, 3);
  std::vector<float> y(N * C), rstd(N), dx(N * C, 0.0f), dw(C, 0.0f);
  auto loss = [&] {
    cpu::RmsNormForward(y.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
    return Dot(y, r);
  };
  loss();
  cpu::RmsNormBackward(dx.data(), dw.data(), r.data(), x.data(), w.data(), rstd.data(), N, C);
  ExpectGradient("rmsnorm dinp", x, dx, loss);
  ExpectGradient("rmsnorm dweight", w, dw, loss);
}

TEST(GradCheck, MatmulBothInputs) {
  const int N = 3, C = 5, OC = 4;
  std::vector<float> x = RandomVector(N * C, 4), w = RandomVector(OC * C, 5), r = RandomVector(N * OC, 6);
  std::vector<float> y(N * OC), dx(N * C, 0.0f), dw(OC * C, 0.0f);
  auto loss = [&] {
    cpu::Matmul(y.data(), x.data(), w.data(), N, C, OC);
    return Dot(y, r);
  };
  cpu::MatmulBackward(dx.data(), dw.data(), r.data(), x.data(), w.data(), N, C, OC);
  ExpectGradient("matmul dinp", x, dx, loss);
  ExpectGradient("matmul dweight", w, dw, loss);
}

TEST(GradCheck, RopeIsItsInverseRotationsBackward) {
  const int N = 5, H = 2, hd = 8;
  std::vector<float> x = RandomVector(N * H * hd, 7), r = RandomVector(N * H * hd, 8);
  const std::vector<int> pos = {0, 1, 2, 7, 15};
  std::vector<float> y(x.size());
  auto loss = [&] {
    y = x;
    cpu::Rope(y.data(), pos.data(), N, H, hd, 10000.0f, false);
    return Dot(y, r);
  };
  std::vector<float> dx = r;
  cpu::Rope(dx.data(), pos.data(), N, H, hd, 10000.0f, true);
  ExpectGradient("rope", x, dx, loss);
  // Position 0 is the identity, later positions are not.
  y = x;
  cpu::Rope(y.data(), pos.data(), N, H, hd, 10000.0f, false);
  for (int i = 0; i < H * hd; i++) EXPECT_EQ(y[static_cast<size_t>(i)], x[static_cast<size_t>(i)]);
  EXPECT_NE(y[H * hd * 3], x[H * hd * 3]);
}

TEST(GradCheck, GroupedQueryAttention) {
  const int B = 2, T = 6, NH = 4, NKV = 2, hd = 4;
  // A prefix tree in each row: tokens 0-1 shared, branches 2-3 and 4-5.
  const std::vector<int> tree = {0, 0, 2, 2, 4, 4, /**/ 0, 0, 2, 2, 4, 4};
  for (const int* first : {static_cast<const int*>(nullptr), tree.data()}) {
    SCOPED_TRACE(first == nullptr ? "causal" : "prefix tree");
    std::vector<float> q = RandomVector(B * T * NH * hd, 9), k = RandomVector(B * T * NKV * hd, 10),
                       v = RandomVector(B * T * NKV * hd, 11), r = RandomVector(B * T * NH * hd, 12);
    std::vector<float> out(q.size()), att(B * NH * T * T);
    auto loss = [&] {
      cpu::AttentionForward(out.data(), att.data(), q.data(), k.data(), v.data(), B, T, NH, NKV, hd, first, 2);
      return Dot(out, r);
    };
    loss();
    // Row 1, head 3, query 4 (the second branch's first token): keys 0, 1 and itself only.
    const float* row = att.data() + ((1 * NH + 3) * T + 4) * T;
    EXPECT_GT(row[1], 0.0f);
    EXPECT_EQ(row[2] == 0.0f && row[3] == 0.0f, first != nullptr);
    EXPECT_EQ(row[5], 0.0f);
    std::vector<float> dq(q.size(), 0.0f), dk(k.size(), 0.0f), dv(v.size(), 0.0f);
    cpu::AttentionBackward(dq.data(), dk.data(), dv.data(), r.data(), att.data(), q.data(), k.data(), v.data(), B,
                           T, NH, NKV, hd, first, 2);
    ExpectGradient("attention dq", q, dq, loss);
    ExpectGradient("attention dk", k, dk, loss);
    ExpectGradient("attention dv", v, dv, loss);
  }
}

TEST(GradCheck, SwiGlu) {
  const int N = 3, H = 6;
  std::vector<float> g = RandomVector(N * H, 13, 2.0f), u = RandomVector(N * H, 14), r = RandomVector(N * H, 15);
  std::vector<float> y(N * H), dg(N * H, 0.0f), du(N * H, 0.0f);
  auto loss = [&] {
    cpu::SwigluForward(y.data(), g.data(), u.data(), N, H);
    return Dot(y, r);
  };
  cpu::SwigluBackward(dg.data(), du.data(), r.data(), g.data(), u.data(), N, H);
  ExpectGradient("swiglu dgate", g, dg, loss);
  ExpectGradient("swiglu dup", u, du, loss);
}

TEST(GradCheck, EmbeddingAccumulatesRepeatedTokens) {
  const int N = 5, C = 4, V = 6;
  std::vector<float> wte = RandomVector(V * C, 16), r = RandomVector(N * C, 17);
  const std::vector<int> tokens = {1, 3, 1, 5, 1};  // token 1 three times
  std::vector<float> y(N * C), dwte(V * C, 0.0f);
  auto loss = [&] {
    cpu::EmbeddingForward(y.data(), tokens.data(), wte.data(), N, C);
    return Dot(y, r);
  };
  cpu::EmbeddingBackward(dwte.data(), r.data(), tokens.data(), N, C);
  ExpectGradient("embedding", wte, dwte, loss);
}

TEST(GradCheck, CrossEntropyWithWeightsAndMask) {
  const int N = 4, V = 7;
  std::vector<float> logits = RandomVector(N * V, 18, 2.0f);
  const std::vector<int> targets = {0, 3, 6, 2};
  const std::vector<float> weights = {1.0f, 0.0f, 2.5f, -1.0f};  // a masked row and an advantage sign
  std::vector<float> losses(N), d(N * V);
  auto loss = [&] {
    cpu::CrossEntropyForward(losses.data(), logits.data(), targets.data(), N, V);
    double s = 0.0;
    for (int n = 0; n < N; n++) s += weights[static_cast<size_t>(n)] * losses[static_cast<size_t>(n)];
    return s;
  };
  cpu::CrossEntropyBackward(d.data(), logits.data(), targets.data(), weights.data(), N, V);
  ExpectGradient("cross-entropy", logits, d, loss);
  for (int i = 0; i < V; i++) EXPECT_EQ(d[static_cast<size_t>(V + i)], 0.0f) << "masked row has gradient";
}

// The whole model, tied and untied: every parameter tensor is checked in a few coordinates
// against finite differences of Model::Forward's loss.
void CheckWholeModel(bool tied) {
  CpuBackend cpu;
  ModelConfig c = testing::TinyConfig();
  c.tied_embeddings = tied;
  auto model = testing::MakeModel(cpu, c, 21, 0.3f);
  const int B = 2, T = 5;
  const std::vector<int> tokens = RandomTokens(B * T, c.vocab_size, 22);
  const std::vector<int> targets = RandomTokens(B * T, c.vocab_size, 23);
  std::vector<uint8_t> mask(B * T, 1);
  mask[3] = 0;
  // Sum, not mean, over the targets: bigger gradients, same code path.
  std::vector<float> weights(B * T);
  for (size_t i = 0; i < weights.size(); i++) weights[i] = static_cast<float>(mask[i]);
  ASSERT_TRUE(model->Forward(tokens, targets, weights, B, T).ok());
  model->ZeroGrad();
  ASSERT_TRUE(model->Backward().ok());
  const std::vector<float> grads = model->DownloadGrads();
  std::vector<float> params = model->DownloadParams();
  std::mt19937_64 rng(24);
  for (const TensorInfo& t : model->tensors()) {
    std::vector<float> x, analytic;
    std::vector<size_t> at;
    // Distinct coordinates: a repeat would overwrite its own perturbation in loss().
    std::set<size_t> picked;
    while (picked.size() < std::min<size_t>(6, t.size)) picked.insert(t.offset + rng() % t.size);
    for (size_t i : picked) {
      at.push_back(i);
      x.push_back(params[i]);
      analytic.push_back(grads[i]);
    }
    auto loss = [&]() -> double {
      for (size_t i = 0; i < at.size(); i++) params[at[i]] = x[i];
      EXPECT_TRUE(model->UploadParams(params).ok());
      auto l = model->Forward(tokens, targets, weights, B, T);
      return l.ok() ? *l : NAN;
    };
    // A sampled coordinate set may miss every large entry of a tensor; require signal overall
    // rather than per tensor here.
    int bad = 0;
    for (size_t i = 0; i < x.size(); i++) {
      const double numeric = CentralDifference(x[i], loss);
      if (std::abs(analytic[i] - numeric) > 5e-3 + 2e-2 * std::abs(numeric)) {
        bad++;
        ADD_FAILURE() << t.name << "[" << at[i] - t.offset << "]: analytic " << analytic[i] << " numeric " << numeric;
      }
    }
    loss();  // uploads the restored coordinates before the next tensor
    EXPECT_EQ(bad, 0) << t.name;
  }
  double norm = 0.0;
  for (float g : grads) norm += static_cast<double>(g) * g;
  EXPECT_GT(std::sqrt(norm), 1.0);
}

TEST(GradCheck, WholeModelTiedEmbeddings) { CheckWholeModel(true); }

#ifdef _OPENMP
// The CPU ops promise the same bits on any thread count (each output summed by one thread in a
// fixed order); that is what makes resumed training bit-exact. A model big enough that the
// matmuls and attention pass the parallel threshold, on 1 thread and on 2.
TEST(CpuOps, ResultsDoNotDependOnTheThreadCount) {
  CpuBackend cpu;
  ModelConfig c = testing::TinyConfig();
  c.dim = 64;
  c.hidden_dim = 128;
  c.vocab_size = 260;
  c.max_seq = 32;
  auto model = testing::MakeModel(cpu, c, 31, 0.1f);
  const int B = 4, T = 32;
  const std::vector<int> tokens = RandomTokens(B * T, c.vocab_size, 32);
  const std::vector<float> weights(B * T, 1.0f / (B * T));
  auto run = [&](int threads) {
    omp_set_num_threads(threads);
    EXPECT_TRUE(model->Forward(tokens, tokens, weights, B, T).ok());
    model->ZeroGrad();
    EXPECT_TRUE(model->Backward().ok());
    std::vector<float> out = model->Logits();
    const std::vector<float> g = model->DownloadGrads();
    out.insert(out.end(), g.begin(), g.end());
    return out;
  };
  const int saved = omp_get_max_threads();
  const std::vector<float> one = run(1);
  const std::vector<float> two = run(2);
  omp_set_num_threads(saved);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
}
#endif
TEST(GradCheck, WholeModelUntiedHead) { CheckWholeModel(false); }

}  // namespace
}  // namespace rock::policy
