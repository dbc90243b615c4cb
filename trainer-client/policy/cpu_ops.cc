#include "trainer-client/policy/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rock::policy::cpu {

namespace {

// Sizes as signed 64-bit loop indices: OpenMP wants signed loops, and N*C overflows int for
// large batches.
using I = int64_t;

// Below this many multiply-adds an op runs on one thread: waking the team costs more than it
// saves, and on a loaded machine a descheduled team member stalls the barrier for a time slice.
constexpr I kParallelWork = I{1} << 18;

// The matmuls are most of a training step. The build targets baseline x86-64 so the binary runs
// on any host; the matmuls also get an x86-64-v3 (AVX2, FMA) clone, which the loader picks on a
// CPU that has it (about 1.15x on a whole candidate step of the make run policy).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ROCK_MATMUL_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define ROCK_MATMUL_CLONES
#endif

// max and log-sum-exp of one row, the shared part of softmax, log-softmax and cross-entropy.
// The exps are float (each is within a float ulp either way) and their sum double: the exps
// over the vocabulary are a large share of a small model's training step.
void RowStats(const float* row, int V, float* max_out, float* lse_out) {
  float mx = row[0];
  for (int i = 1; i < V; i++) mx = std::max(mx, row[i]);
  double sum = 0.0;
  for (int i = 0; i < V; i++) sum += static_cast<double>(std::exp(row[i] - mx));
  *max_out = mx;
  *lse_out = mx + static_cast<float>(std::log(sum));
}

}  // namespace

void EmbeddingForward(float* out, const int* tokens, const float* wte, int N, int C) {
#pragma omp parallel for if (I{N} * C > kParallelWork)
  for (I n = 0; n < N; n++) std::copy_n(wte + I{tokens[n]} * C, C, out + n * C);
}

void EmbeddingBackward(float* dwte, const float* dout, const int* tokens, int N, int C) {
  // Serial over n: two rows with the same token add into the same dwte row.
  for (I n = 0; n < N; n++) {
    float* d = dwte + I{tokens[n]} * C;
    const float* g = dout + n * C;
    for (int c = 0; c < C; c++) d[c] += g[c];
  }
}

void RmsNormForward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps) {
#pragma omp parallel for if (I{N} * C > kParallelWork)
  for (I n = 0; n < N; n++) {
    const float* x = inp + n * C;
    double ss = 0.0;
    for (int c = 0; c < C; c++) ss += static_cast<double>(x[c]) * x[c];
    const float r = static_cast<float>(1.0 / std::sqrt(ss / C + eps));
    rstd[n] = r;
    for (int c = 0; c < C; c++) out[n * C + c] = x[c] * r * weight[c];
  }
}

void RmsNormBackward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                     const float* rstd, int N, int C) {
  // y_c = w_c x_c r, r = (mean(x^2)+eps)^-1/2:
  // dx_c = r (w_c g_c) - r^3 x_c / C * sum_j (w_j g_j x_j)
#pragma omp parallel for if (I{N} * C > kParallelWork)
  for (I n = 0; n < N; n++) {
    const float* x = inp + n * C;
    const float* g = dout + n * C;
    const float r = rstd[n];
    double dot = 0.0;
    for (int c = 0; c < C; c++) dot += static_cast<double>(weight[c]) * g[c] * x[c];
    const float k = static_cast<float>(dot) * r * r * r / static_cast<float>(C);
    for (int c = 0; c < C; c++) dinp[n * C + c] += r * weight[c] * g[c] - k * x[c];
  }
  // dweight sums over rows: parallel over channels so each is owned by one thread.
#pragma omp parallel for if (I{N} * C > kParallelWork)
  for (I c = 0; c < C; c++) {
    float acc = 0.0f;
    for (I n = 0; n < N; n++) acc += dout[n * C + c] * inp[n * C + c] * rstd[n];
    dweight[c] += acc;
  }
}

ROCK_MATMUL_CLONES void Matmul(float* out, const float* inp, const float* weight, int N, int C, int OC) {
#pragma omp parallel for collapse(2) if (I{N} * C * OC > kParallelWork)
  for (I n = 0; n < N; n++) {
    for (I o = 0; o < OC; o++) {
      const float* x = inp + n * C;
      const float* w = weight + o * C;
      float acc = 0.0f;
      // simd reduction: lanes sum in a fixed interleaved order, the same for every row and
      // call, so results stay reproducible while the loop vectorizes.
#pragma omp simd reduction(+ : acc)
      for (int c = 0; c < C; c++) acc += x[c] * w[c];
      out[n * OC + o] = acc;
    }
  }
}

ROCK_MATMUL_CLONES void MatmulBackward(float* dinp, float* dweight, const float* dout, const float* inp,
                                       const float* weight, int N, int C, int OC) {
  // dinp (N,C) += dout (N,OC) @ weight (OC,C): rows of dinp are independent.
#pragma omp parallel for if (I{N} * C * OC > kParallelWork)
  for (I n = 0; n < N; n++) {
    float* dx = dinp + n * C;
    for (I o = 0; o < OC; o++) {
      const float g = dout[n * OC + o];
      const float* w = weight + o * C;
      for (int c = 0; c < C; c++) dx[c] += g * w[c];
    }
  }
  // dweight (OC,C) += dout^T (OC,N) @ inp (N,C): rows of dweight are independent.
#pragma omp parallel for if (I{N} * C * OC > kParallelWork)
  for (I o = 0; o < OC; o++) {
    float* dw = dweight + o * C;
    for (I n = 0; n < N; n++) {
      const float g = dout[n * OC + o];
      const float* x = inp + n * C;
      for (int c = 0; c < C; c++) dw[c] += g * x[c];
    }
  }
}

void Rope(float* x, const int* pos, int N, int H, int hd, float theta, bool inverse) {
  std::vector<double> freq(static_cast<size_t>(hd / 2));
  for (int i = 0; i < hd / 2; i++) freq[static_cast<size_t>(i)] = std::pow(static_cast<double>(theta), -2.0 * i / hd);
#pragma omp parallel for if (I{N} * H * hd > kParallelWork)
  for (I n = 0; n < N; n++) {
    for (int i = 0; i < hd / 2; i++) {
      // The angle in double: pos * freq loses the low bits in float at long positions. One
      // rotation serves every head of the token.
      const double angle = pos[n] * freq[static_cast<size_t>(i)] * (inverse ? -1.0 : 1.0);
      const float cs = static_cast<float>(std::cos(angle));
      const float sn = static_cast<float>(std::sin(angle));
      for (int h = 0; h < H; h++) {
        float* v = x + (n * H + h) * hd;
        const float a = v[2 * i];
        const float b = v[2 * i + 1];
        v[2 * i] = a * cs - b * sn;
        v[2 * i + 1] = a * sn + b * cs;
      }
    }
  }
}

namespace {

// The keys query t of row b sees (backend.h): [0, shared_end) and [own_start, t].
struct VisibleKeys {
  I shared_end;
  I own_start;

  template <typename F>
  void ForEach(I t, F&& f) const {
    for (I s = 0; s < shared_end; s++) f(s);
    for (I s = own_start; s <= t; s++) f(s);
  }
};
VisibleKeys Visible(const int* first, int prefix, I b, I T, I t) {
  if (first == nullptr) return {t + 1, t + 1};
  const I shared_end = std::min<I>(t + 1, prefix);
  return {shared_end, std::max<I>(first[b * T + t], shared_end)};
}

}  // namespace

void AttentionForward(float* out, float* att, const float* q, const float* k, const float* v, int B, int T, int NH,
                      int NKV, int hd, const int* first, int prefix) {
  const int group = NH / NKV;  // query heads per kv head
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
#pragma omp parallel for collapse(3) if (I{B} * NH * T * T * hd > kParallelWork)
  for (I b = 0; b < B; b++) {
    for (I h = 0; h < NH; h++) {
      for (I t = 0; t < T; t++) {
        const I kvh = h / group;
        const VisibleKeys keys = Visible(first, prefix, b, T, t);
        const float* qt = q + ((b * T + t) * NH + h) * hd;
        float* a = att + ((b * NH + h) * T + t) * T;
        // Masked positions are stored as 0 so the backward can read the full row.
        std::fill_n(a, T, 0.0f);
        float mx = -INFINITY;
        keys.ForEach(t, [&](I s) {
          const float* ks = k + ((b * T + s) * NKV + kvh) * hd;
          float dot = 0.0f;
          for (int i = 0; i < hd; i++) dot += qt[i] * ks[i];
          a[s] = dot * scale;
          mx = std::max(mx, a[s]);
        });
        float sum = 0.0f;
        keys.ForEach(t, [&](I s) {
          a[s] = std::exp(a[s] - mx);
          sum += a[s];
        });
        float* o = out + ((b * T + t) * NH + h) * hd;
        std::fill_n(o, hd, 0.0f);
        keys.ForEach(t, [&](I s) {
          a[s] /= sum;
          const float* vs = v + ((b * T + s) * NKV + kvh) * hd;
          for (int i = 0; i < hd; i++) o[i] += a[s] * vs[i];
        });
      }
    }
  }
}

void AttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* att, const float* q,
                       const float* k, const float* v, int B, int T, int NH, int NKV, int hd, const int* first,
                       int prefix) {
  const int group = NH / NKV;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // Parallel over (b, kv head): the query heads of a group add into the same dk, dv rows.
#pragma omp parallel for collapse(2) if (I{B} * NH * T * T * hd > kParallelWork)
  for (I b = 0; b < B; b++) {
    for (I kvh = 0; kvh < NKV; kvh++) {
      std::vector<float> datt(static_cast<size_t>(T));
      for (I h = kvh * group; h < (kvh + 1) * group; h++) {
        for (I t = 0; t < T; t++) {
          const VisibleKeys keys = Visible(first, prefix, b, T, t);
          const float* a = att + ((b * NH + h) * T + t) * T;
          const float* go = dout + ((b * T + t) * NH + h) * hd;
          const float* qt = q + ((b * T + t) * NH + h) * hd;
          float* dqt = dq + ((b * T + t) * NH + h) * hd;
          // out_t = sum_s a_s v_s: da_s = go . v_s, dv_s += a_s go
          float dot_a_da = 0.0f;
          keys.ForEach(t, [&](I s) {
            const float* vs = v + ((b * T + s) * NKV + kvh) * hd;
            float* dvs = dv + ((b * T + s) * NKV + kvh) * hd;
            float d = 0.0f;
            for (int i = 0; i < hd; i++) {
              d += go[i] * vs[i];
              dvs[i] += a[s] * go[i];
            }
            datt[static_cast<size_t>(s)] = d;
            dot_a_da += a[s] * d;
          });
          // softmax backward: dscore_s = a_s (da_s - sum_j a_j da_j); score = scale q.k
          keys.ForEach(t, [&](I s) {
            const float ds = a[s] * (datt[static_cast<size_t>(s)] - dot_a_da) * scale;
            const float* ks = k + ((b * T + s) * NKV + kvh) * hd;
            float* dks = dk + ((b * T + s) * NKV + kvh) * hd;
            for (int i = 0; i < hd; i++) {
              dqt[i] += ds * ks[i];
              dks[i] += ds * qt[i];
            }
          });
        }
      }
    }
  }
}

void AttentionDecode(float* out, float* kcache, float* vcache, const float* q, const float* k, const float* v,
                     const int* slot, const int* pos, int N, int NH, int NKV, int hd, int max_seq) {
  const I row = I{NKV} * hd;  // floats per cached position
  for (I n = 0; n < N; n++) {
    const I at = (I{slot[n]} * max_seq + pos[n]) * row;
    std::copy_n(k + n * row, row, kcache + at);
    std::copy_n(v + n * row, row, vcache + at);
  }
  const int group = NH / NKV;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // The same sums in the same order as AttentionForward, so a decoded token sees the logits
  // of the full forward up to rounding of the exp.
#pragma omp parallel for collapse(2) if (I{N} * NH * max_seq * hd > kParallelWork)
  for (I n = 0; n < N; n++) {
    for (I h = 0; h < NH; h++) {
      const I kvh = h / group;
      const I base = I{slot[n]} * max_seq * row + kvh * hd;
      const int len = pos[n] + 1;
      const float* qt = q + (n * NH + h) * hd;
      std::vector<float> a(static_cast<size_t>(len));
      float mx = -INFINITY;
      for (int s = 0; s < len; s++) {
        const float* ks = kcache + base + s * row;
        float dot = 0.0f;
        for (int i = 0; i < hd; i++) dot += qt[i] * ks[i];
        a[static_cast<size_t>(s)] = dot * scale;
        mx = std::max(mx, a[static_cast<size_t>(s)]);
      }
      float sum = 0.0f;
      for (float& x : a) {
        x = std::exp(x - mx);
        sum += x;
      }
      float* o = out + (n * NH + h) * hd;
      std::fill_n(o, hd, 0.0f);
      for (int s = 0; s < len; s++) {
        const float w = a[static_cast<size_t>(s)] / sum;
        const float* vs = vcache + base + s * row;
        for (int i = 0; i < hd; i++) o[i] += w * vs[i];
      }
    }
  }
}

namespace {
float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
}  // namespace

void SwigluForward(float* out, const float* gate, const float* up, int N, int H) {
  const I n_all = I{N} * H;
#pragma omp parallel for if (n_all > kParallelWork)
  for (I i = 0; i < n_all; i++) out[i] = gate[i] * Sigmoid(gate[i]) * up[i];
}

void SwigluBackward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int N, int H) {
  // silu(g) = g s(g); silu'(g) = s(g) (1 + g (1 - s(g)))
  const I n_all = I{N} * H;
#pragma omp parallel for if (n_all > kParallelWork)
  for (I i = 0; i < n_all; i++) {
    const float s = Sigmoid(gate[i]);
    dgate[i] += dout[i] * up[i] * s * (1.0f + gate[i] * (1.0f - s));
    dup[i] += dout[i] * gate[i] * s;
  }
}

void CrossEntropyForward(float* losses, const float* logits, const int* targets, int N, int V) {
#pragma omp parallel for if (I{N} * V > kParallelWork)
  for (I n = 0; n < N; n++) {
    float mx = 0.0f;
    float lse = 0.0f;
    RowStats(logits + n * V, V, &mx, &lse);
    losses[n] = lse - logits[n * V + targets[n]];
  }
}

void CrossEntropyBackward(float* dlogits, const float* logits, const int* targets, const float* weights, int N,
                          int V) {
#pragma omp parallel for if (I{N} * V > kParallelWork)
  for (I n = 0; n < N; n++) {
    const float* row = logits + n * V;
    float* d = dlogits + n * V;
    const float w = weights[n];
    // A row outside the loss (a prompt or padding position) costs no exps.
    if (w == 0.0f) {
      std::fill_n(d, V, 0.0f);
      continue;
    }
    // softmax = e / sum e with e = exp(logit - max), computed once into d (which may be row:
    // each element is read before it is written).
    float mx = row[0];
    for (I i = 1; i < V; i++) mx = std::max(mx, row[i]);
    double sum = 0.0;
    for (I i = 0; i < V; i++) {
      d[i] = std::exp(row[i] - mx);
      sum += static_cast<double>(d[i]);
    }
    const float scale = w / static_cast<float>(sum);
    for (I i = 0; i < V; i++) d[i] *= scale;
    d[targets[n]] -= w;
  }
}

void Softmax(float* out, const float* inp, int N, int V) {
#pragma omp parallel for if (I{N} * V > kParallelWork)
  for (I n = 0; n < N; n++) {
    float mx = 0.0f;
    float lse = 0.0f;
    RowStats(inp + n * V, V, &mx, &lse);
    for (I i = 0; i < V; i++) out[n * V + i] = std::exp(inp[n * V + i] - lse);
  }
}

void LogSoftmax(float* out, const float* inp, int N, int V) {
#pragma omp parallel for if (I{N} * V > kParallelWork)
  for (I n = 0; n < N; n++) {
    float mx = 0.0f;
    float lse = 0.0f;
    RowStats(inp + n * V, V, &mx, &lse);
    for (I i = 0; i < V; i++) out[n * V + i] = inp[n * V + i] - lse;
  }
}

double SumSquares(const float* x, size_t n) {
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) sum += static_cast<double>(x[i]) * x[i];
  return sum;
}

void AdamW(float* param, float* m, float* v, const float* grad, size_t n, float lr, float beta1, float beta2,
           float eps, float weight_decay, float grad_scale, int64_t step) {
  const float bc1 = 1.0f - static_cast<float>(std::pow(beta1, static_cast<double>(step)));
  const float bc2 = 1.0f - static_cast<float>(std::pow(beta2, static_cast<double>(step)));
  const I count = static_cast<I>(n);
#pragma omp parallel for if (count > kParallelWork)
  for (I i = 0; i < count; i++) {
    const float g = grad[i] * grad_scale;
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    const float mhat = m[i] / bc1;
    const float vhat = v[i] / bc2;
    // Decoupled: the decay shrinks the weight directly instead of entering the gradient.
    param[i] -= lr * (mhat / (std::sqrt(vhat) + eps) + weight_decay * param[i]);
  }
}

}  // namespace rock::policy::cpu
