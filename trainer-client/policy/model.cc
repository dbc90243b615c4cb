#include "trainer-client/policy/model.h"

#include <cmath>
#include <random>
#include <string>
#include <utility>

namespace rock::policy {

std::vector<TensorInfo> TensorLayout(const ModelConfig& c) {
  const int64_t C = c.dim;
  const int64_t KV = int64_t{c.n_kv_heads} * c.head_dim();
  const int64_t H = c.hidden_dim;
  const int64_t V = c.vocab_size;
  std::vector<TensorInfo> out;
  size_t offset = 0;
  auto add = [&](std::string name, std::vector<int64_t> shape, bool decay) {
    size_t size = 1;
    for (int64_t d : shape) size *= static_cast<size_t>(d);
    out.push_back({std::move(name), std::move(shape), offset, size, decay});
    offset += size;
  };
  add("wte", {V, C}, true);
  for (int l = 0; l < c.n_layers; l++) {
    const std::string p = "layers." + std::to_string(l) + ".";
    add(p + "attn_norm", {C}, false);
    add(p + "wq", {C, C}, true);
    add(p + "wk", {KV, C}, true);
    add(p + "wv", {KV, C}, true);
    add(p + "wo", {C, C}, true);
    add(p + "ffn_norm", {C}, false);
    add(p + "w1", {H, C}, true);
    add(p + "w3", {H, C}, true);
    add(p + "w2", {C, H}, true);
  }
  add("final_norm", {C}, false);
  if (!c.tied_embeddings) add("wout", {V, C}, true);
  return out;
}

std::vector<float> MaskedMeanWeights(std::span<const uint8_t> mask) {
  size_t count = 0;
  for (uint8_t m : mask) count += m != 0 ? 1 : 0;
  std::vector<float> w(mask.size(), 0.0f);
  if (count == 0) return w;
  for (size_t i = 0; i < mask.size(); i++) w[i] = mask[i] != 0 ? 1.0f / static_cast<float>(count) : 0.0f;
  return w;
}

namespace {

// Pointers of a tensor set laid out by TensorLayout from base.
ModelTensors Carve(float* base, const ModelConfig& c) {
  float* p = base;
  auto take = [&p](size_t n) { return std::exchange(p, p + n); };
  const size_t C = static_cast<size_t>(c.dim);
  const size_t KV = static_cast<size_t>(c.n_kv_heads) * static_cast<size_t>(c.head_dim());
  const size_t H = static_cast<size_t>(c.hidden_dim);
  const size_t V = static_cast<size_t>(c.vocab_size);
  ModelTensors t;
  t.wte = take(V * C);
  for (int l = 0; l < c.n_layers; l++) {
    LayerTensors lt;
    lt.attn_norm = take(C);
    lt.wq = take(C * C);
    lt.wk = take(KV * C);
    lt.wv = take(KV * C);
    lt.wo = take(C * C);
    lt.ffn_norm = take(C);
    lt.w1 = take(H * C);
    lt.w3 = take(H * C);
    lt.w2 = take(C * H);
    t.layers.push_back(lt);
  }
  t.final_norm = take(C);
  t.wout = c.tied_embeddings ? t.wte : take(V * C);
  return t;
}

}  // namespace

// Everything Forward keeps for Backward, plus the backward's scratch: one allocation carved
// into named pointers. Sized for B*T tokens.
struct Model::Activations {
  int B = 0;
  int T = 0;
  bool have_forward = false;
  DeviceBuffer floats;
  DeviceBuffer ints;
  int* tokens;      // (N)
  int* targets;     // (N)
  int* pos;         // (N) position of each token in its sequence, for RoPE
  float* weights;   // (N)
  std::vector<float*> resid;  // L+1 of (N,C): the residual stream entering each block, and out
  struct Layer {
    float *ln1, *rstd1, *q, *k, *v, *att, *atty, *mid, *ln2, *rstd2, *h1, *h3, *g;
  };
  std::vector<Layer> layers;
  float *lnf, *rstdf, *logits, *losses, *dlogits;
  float *scratch;  // (N,C) projection outputs before they join the residual
  // backward scratch
  float *dresid, *dmid, *dln, *dq, *dk, *dv, *datty, *dh1, *dh3, *dg, *dlnf;
};

Model::Model(Backend& backend, const ModelConfig& config) : backend_(backend), config_(config) {}
Model::~Model() = default;

StatusOr<std::unique_ptr<Model>> Model::Create(Backend& backend, const ModelConfig& config, uint64_t seed) {
  if (Status s = Validate(config); !s.ok()) return s.WithContext("model config");
  std::unique_ptr<Model> m(new Model(backend, config));
  m->tensors_ = TensorLayout(config);
  m->num_params_ = m->tensors_.back().offset + m->tensors_.back().size;
  m->params_ = backend.Alloc(m->num_params_ * sizeof(float));
  m->grads_ = backend.Alloc(m->num_params_ * sizeof(float));
  m->weights_ = Carve(m->params(), config);
  m->grad_tensors_ = Carve(m->grads(), config);

  std::vector<float> host(m->num_params_);
  std::mt19937_64 rng(seed);
  const float proj_std = 0.02f / std::sqrt(2.0f * static_cast<float>(config.n_layers));
  for (const TensorInfo& t : m->tensors_) {
    float* p = host.data() + t.offset;
    if (t.shape.size() == 1) {
      std::fill_n(p, t.size, 1.0f);
      continue;
    }
    const bool proj = t.name.ends_with(".wo") || t.name.ends_with(".w2");
    std::normal_distribution<float> dist(0.0f, proj ? proj_std : 0.02f);
    for (size_t i = 0; i < t.size; i++) p[i] = dist(rng);
  }
  backend.Upload(m->params(), host.data(), host.size() * sizeof(float));
  return m;
}

std::vector<float> Model::DownloadParams() const {
  std::vector<float> host(num_params_);
  backend_.Download(host.data(), params(), host.size() * sizeof(float));
  return host;
}

std::vector<float> Model::DownloadGrads() const {
  std::vector<float> host(num_params_);
  backend_.Download(host.data(), grads(), host.size() * sizeof(float));
  return host;
}

Status Model::UploadParams(std::span<const float> host) {
  if (host.size() != num_params_) {
    return InvalidArgument("parameters: got " + std::to_string(host.size()) + " floats, the model has " +
                           std::to_string(num_params_));
  }
  backend_.Upload(params(), host.data(), host.size_bytes());
  return Status::Ok();
}

void Model::ZeroGrad() { backend_.Zero(grads(), num_params_); }

void Model::EnsureActivations(int B, int T) {
  if (acts_ && acts_->B == B && acts_->T == T) return;
  const ModelConfig& c = config_;
  const size_t N = static_cast<size_t>(B) * static_cast<size_t>(T);
  const size_t C = static_cast<size_t>(c.dim);
  const size_t KV = static_cast<size_t>(c.n_kv_heads) * static_cast<size_t>(c.head_dim());
  const size_t H = static_cast<size_t>(c.hidden_dim);
  const size_t V = static_cast<size_t>(c.vocab_size);
  const size_t att = static_cast<size_t>(B) * static_cast<size_t>(c.n_heads) * static_cast<size_t>(T) *
                     static_cast<size_t>(T);
  const size_t L = static_cast<size_t>(c.n_layers);
  const size_t per_layer = N * C * 5 + N * 2 + N * KV * 2 + att + N * H * 3;
  const size_t total = N  // weights
                       + (L + 1) * N * C + L * per_layer + N * C + N + N * V * 2 + N + N * C  // forward
                       + N * C * 6 + N * KV * 2 + N * H * 3;                                // backward
  auto a = std::make_unique<Activations>();
  a->B = B;
  a->T = T;
  a->floats = backend_.Alloc(total * sizeof(float));
  a->ints = backend_.Alloc(3 * N * sizeof(int));
  a->tokens = a->ints.as<int>();
  a->targets = a->tokens + N;
  a->pos = a->targets + N;
  float* p = a->floats.as<float>();
  auto take = [&p](size_t n) { return std::exchange(p, p + n); };
  a->weights = take(N);
  for (size_t l = 0; l <= L; l++) a->resid.push_back(take(N * C));
  for (size_t l = 0; l < L; l++) {
    Activations::Layer y;
    y.ln1 = take(N * C);
    y.rstd1 = take(N);
    y.q = take(N * C);
    y.k = take(N * KV);
    y.v = take(N * KV);
    y.att = take(att);
    y.atty = take(N * C);
    y.mid = take(N * C);
    y.ln2 = take(N * C);
    y.rstd2 = take(N);
    y.h1 = take(N * H);
    y.h3 = take(N * H);
    y.g = take(N * H);
    a->layers.push_back(y);
  }
  a->lnf = take(N * C);
  a->rstdf = take(N);
  a->logits = take(N * V);
  a->dlogits = take(N * V);
  a->losses = take(N);
  a->scratch = take(N * C);
  a->dresid = take(N * C);
  a->dmid = take(N * C);
  a->dln = take(N * C);
  a->datty = take(N * C);
  a->dlnf = take(N * C);
  a->dq = take(N * C);
  a->dk = take(N * KV);
  a->dv = take(N * KV);
  a->dh1 = take(N * H);
  a->dh3 = take(N * H);
  a->dg = take(N * H);
  std::vector<int> pos(N);
  for (size_t n = 0; n < N; n++) pos[n] = static_cast<int>(n % static_cast<size_t>(T));
  backend_.Upload(a->pos, pos.data(), N * sizeof(int));
  acts_ = std::move(a);
}

StatusOr<float> Model::Forward(std::span<const int> tokens, std::span<const int> targets,
                               std::span<const float> weights, int B, int T) {
  const ModelConfig& c = config_;
  if (B <= 0 || T <= 0 || T > c.max_seq) {
    return InvalidArgument("forward: batch " + std::to_string(B) + "x" + std::to_string(T) +
                           " (T must be in 1.." + std::to_string(c.max_seq) + ")");
  }
  const size_t N = static_cast<size_t>(B) * static_cast<size_t>(T);
  if (tokens.size() != N || targets.size() != N || weights.size() != N) {
    return InvalidArgument("forward: tokens, targets and weights must each hold B*T = " + std::to_string(N) +
                           " values (got " + std::to_string(tokens.size()) + ", " + std::to_string(targets.size()) +
                           ", " + std::to_string(weights.size()) + ")");
  }
  for (size_t i = 0; i < N; i++) {
    if (tokens[i] < 0 || tokens[i] >= c.vocab_size || targets[i] < 0 || targets[i] >= c.vocab_size) {
      return InvalidArgument("forward: token or target at " + std::to_string(i) + " outside the vocabulary of " +
                             std::to_string(c.vocab_size));
    }
  }
  EnsureActivations(B, T);
  Activations& a = *acts_;
  Backend& be = backend_;
  const int n = static_cast<int>(N);
  const auto [C, hd, KV, H, V] = c.dims();
  be.Upload(a.tokens, tokens.data(), N * sizeof(int));
  be.Upload(a.targets, targets.data(), N * sizeof(int));
  be.Upload(a.weights, weights.data(), N * sizeof(float));

  be.EmbeddingForward(a.resid[0], a.tokens, weights_.wte, n, C);  // (N) -> (N,C)
  for (int l = 0; l < c.n_layers; l++) {
    const LayerTensors& w = weights_.layers[static_cast<size_t>(l)];
    Activations::Layer& y = a.layers[static_cast<size_t>(l)];
    const float* x = a.resid[static_cast<size_t>(l)];
    be.RmsNormForward(y.ln1, y.rstd1, x, w.attn_norm, n, C, c.norm_eps);  // (N,C)
    be.Matmul(y.q, y.ln1, w.wq, n, C, C);                                 // (N,C) -> (N,NH*hd)
    be.Matmul(y.k, y.ln1, w.wk, n, C, KV);                                // (N,C) -> (N,NKV*hd)
    be.Matmul(y.v, y.ln1, w.wv, n, C, KV);
    be.Rope(y.q, a.pos, n, c.n_heads, hd, c.rope_theta, false);
    be.Rope(y.k, a.pos, n, c.n_kv_heads, hd, c.rope_theta, false);
    be.AttentionForward(y.atty, y.att, y.q, y.k, y.v, B, T, c.n_heads, c.n_kv_heads, hd);  // (B,T,NH,hd)
    be.Matmul(a.scratch, y.atty, w.wo, n, C, C);
    be.Add(y.mid, x, a.scratch, N * static_cast<size_t>(C));
    be.RmsNormForward(y.ln2, y.rstd2, y.mid, w.ffn_norm, n, C, c.norm_eps);
    be.Matmul(y.h1, y.ln2, w.w1, n, C, H);  // (N,C) -> (N,H)
    be.Matmul(y.h3, y.ln2, w.w3, n, C, H);
    be.SwigluForward(y.g, y.h1, y.h3, n, H);
    be.Matmul(a.scratch, y.g, w.w2, n, H, C);  // (N,H) -> (N,C)
    be.Add(a.resid[static_cast<size_t>(l) + 1], y.mid, a.scratch, N * static_cast<size_t>(C));
  }
  be.RmsNormForward(a.lnf, a.rstdf, a.resid.back(), weights_.final_norm, n, C, c.norm_eps);
  be.Matmul(a.logits, a.lnf, weights_.wout, n, C, V);  // (N,C) -> (N,V)
  be.CrossEntropyForward(a.losses, a.logits, a.targets, n, V);
  std::vector<float> losses(N);
  be.Download(losses.data(), a.losses, N * sizeof(float));
  double loss = 0.0;
  for (size_t i = 0; i < N; i++) loss += static_cast<double>(weights[i]) * losses[i];
  a.have_forward = true;
  return static_cast<float>(loss);
}

std::vector<float> Model::Logits() const {
  if (!acts_) return {};
  std::vector<float> host(static_cast<size_t>(acts_->B) * static_cast<size_t>(acts_->T) *
                          static_cast<size_t>(config_.vocab_size));
  backend_.Download(host.data(), acts_->logits, host.size() * sizeof(float));
  return host;
}

std::vector<float> Model::Losses() const {
  if (!acts_) return {};
  std::vector<float> host(static_cast<size_t>(acts_->B) * static_cast<size_t>(acts_->T));
  backend_.Download(host.data(), acts_->losses, host.size() * sizeof(float));
  return host;
}

Status Model::SetLossWeights(std::span<const float> weights) {
  if (!acts_ || !acts_->have_forward) return FailedPrecondition("set loss weights: no forward to weigh");
  const size_t N = static_cast<size_t>(acts_->B) * static_cast<size_t>(acts_->T);
  if (weights.size() != N) {
    return InvalidArgument("set loss weights: expected B*T = " + std::to_string(N) + " weights, got " +
                           std::to_string(weights.size()));
  }
  backend_.Upload(acts_->weights, weights.data(), N * sizeof(float));
  return Status::Ok();
}

Status Model::Backward() {
  if (!acts_ || !acts_->have_forward) return FailedPrecondition("backward: no forward to differentiate");
  const ModelConfig& c = config_;
  Activations& a = *acts_;
  Backend& be = backend_;
  const ModelTensors& dw = grad_tensors_;
  const int B = a.B;
  const int T = a.T;
  const int n = B * T;
  const size_t N = static_cast<size_t>(n);
  const auto [C, hd, KV, H, V] = c.dims();
  const size_t NC = N * static_cast<size_t>(C);

  be.CrossEntropyBackward(a.dlogits, a.logits, a.targets, a.weights, n, V);  // (N,V)
  be.Zero(a.dlnf, NC);
  be.MatmulBackward(a.dlnf, dw.wout, a.dlogits, a.lnf, weights_.wout, n, C, V);
  be.Zero(a.dresid, NC);
  be.RmsNormBackward(a.dresid, dw.final_norm, a.dlnf, a.resid.back(), weights_.final_norm, a.rstdf, n, C);
  // dresid holds d loss / d (output of block l) as the loop walks down.
  for (int l = c.n_layers - 1; l >= 0; l--) {
    const LayerTensors& w = weights_.layers[static_cast<size_t>(l)];
    const LayerTensors& g = dw.layers[static_cast<size_t>(l)];
    Activations::Layer& y = a.layers[static_cast<size_t>(l)];
    // out = mid + w2 @ swiglu(w1 ln2, w3 ln2), ln2 = rmsnorm(mid)
    be.Zero(a.dg, N * static_cast<size_t>(H));
    be.MatmulBackward(a.dg, g.w2, a.dresid, y.g, w.w2, n, H, C);
    be.Zero(a.dh1, N * static_cast<size_t>(H));
    be.Zero(a.dh3, N * static_cast<size_t>(H));
    be.SwigluBackward(a.dh1, a.dh3, a.dg, y.h1, y.h3, n, H);
    be.Zero(a.dln, NC);
    be.MatmulBackward(a.dln, g.w1, a.dh1, y.ln2, w.w1, n, C, H);
    be.MatmulBackward(a.dln, g.w3, a.dh3, y.ln2, w.w3, n, C, H);
    be.Zero(a.dmid, NC);
    be.Accumulate(a.dmid, a.dresid, NC);  // the residual path
    be.RmsNormBackward(a.dmid, g.ffn_norm, a.dln, y.mid, w.ffn_norm, y.rstd2, n, C);
    // mid = x + wo @ attention(rope(wq ln1), rope(wk ln1), wv ln1), ln1 = rmsnorm(x)
    be.Zero(a.datty, NC);
    be.MatmulBackward(a.datty, g.wo, a.dmid, y.atty, w.wo, n, C, C);
    be.Zero(a.dq, NC);
    be.Zero(a.dk, N * static_cast<size_t>(KV));
    be.Zero(a.dv, N * static_cast<size_t>(KV));
    be.AttentionBackward(a.dq, a.dk, a.dv, a.datty, y.att, y.q, y.k, y.v, B, T, c.n_heads, c.n_kv_heads, hd);
    // A rotation's backward is the inverse rotation.
    be.Rope(a.dq, a.pos, n, c.n_heads, hd, c.rope_theta, true);
    be.Rope(a.dk, a.pos, n, c.n_kv_heads, hd, c.rope_theta, true);
    be.Zero(a.dln, NC);
    be.MatmulBackward(a.dln, g.wq, a.dq, y.ln1, w.wq, n, C, C);
    be.MatmulBackward(a.dln, g.wk, a.dk, y.ln1, w.wk, n, C, KV);
    be.MatmulBackward(a.dln, g.wv, a.dv, y.ln1, w.wv, n, C, KV);
    std::swap(a.dresid, a.dmid);  // dresid := d mid, the residual path into x
    be.RmsNormBackward(a.dresid, g.attn_norm, a.dln, a.resid[static_cast<size_t>(l)], w.attn_norm, y.rstd1, n, C);
  }
  be.EmbeddingBackward(dw.wte, a.dresid, a.tokens, n, C);
  return Status::Ok();
}

}  // namespace rock::policy
