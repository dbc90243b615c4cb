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
  if (c.match_slots > 0) add("match_gain", {c.match_slots}, false);
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
  t.match_gain = c.match_slots > 0 ? take(static_cast<size_t>(c.match_slots)) : nullptr;
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
  int* first;       // (N) ForwardTree's branch starts; unused by Forward
  const int* mask_first = nullptr;  // first, or null for plain causal attention
  int prefix = 0;                   // ForwardTree's shared tokens
  int head_from = 0;                // the first row the output head runs on; rows before carry no loss
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
      // Norm gains start at 1; the match gains at 0, so a new policy has no copy prior.
      std::fill_n(p, t.size, t.name == "match_gain" ? 0.0f : 1.0f);
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

std::vector<float> Model::MatchGains() const {
  std::vector<float> host(static_cast<size_t>(config_.match_slots));
  if (!host.empty()) backend_.Download(host.data(), weights_.match_gain, host.size() * sizeof(float));
  return host;
}

Status Model::AccumulateMatchGainGrads(std::span<const float> g) {
  if (g.size() != static_cast<size_t>(config_.match_slots)) {
    return InvalidArgument("match gain gradients: got " + std::to_string(g.size()) + " floats, the model has " +
                           std::to_string(config_.match_slots) + " match slots");
  }
  if (g.empty()) return Status::Ok();
  // K floats through the host: no backend allocation on the learner's per-sample path.
  std::vector<float> host(g.size());
  backend_.Download(host.data(), grad_tensors_.match_gain, g.size_bytes());
  for (size_t k = 0; k < host.size(); k++) host[k] += g[k];
  backend_.Upload(grad_tensors_.match_gain, host.data(), g.size_bytes());
  return Status::Ok();
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
  // Every shape gets its own carving of the buffers, which are kept while they are big enough:
  // a learner's batches change shape with every sample, and nothing read is left from before
  // (every op writes its whole output, and the backward zeroes what it accumulates into).
  auto a = std::make_unique<Activations>();
  if (acts_ && acts_->floats.bytes() >= total * sizeof(float) && acts_->ints.bytes() >= 4 * N * sizeof(int)) {
    a->floats = std::move(acts_->floats);
    a->ints = std::move(acts_->ints);
  } else {
    a->floats = backend_.Alloc(total * sizeof(float));
    a->ints = backend_.Alloc(4 * N * sizeof(int));
  }
  a->B = B;
  a->T = T;
  a->tokens = a->ints.as<int>();
  a->targets = a->tokens + N;
  a->pos = a->targets + N;
  a->first = a->pos + N;
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
  acts_ = std::move(a);
}

Status Model::CheckTokens(std::span<const int> tokens, std::span<const int> targets, std::span<const float> weights,
                          size_t N) const {
  if (tokens.size() != N || targets.size() != N || weights.size() != N) {
    return InvalidArgument("forward: tokens, targets and weights must each hold B*T = " + std::to_string(N) +
                           " values (got " + std::to_string(tokens.size()) + ", " + std::to_string(targets.size()) +
                           ", " + std::to_string(weights.size()) + ")");
  }
  for (size_t i = 0; i < N; i++) {
    if (tokens[i] < 0 || tokens[i] >= config_.vocab_size || targets[i] < 0 || targets[i] >= config_.vocab_size) {
      return InvalidArgument("forward: token or target at " + std::to_string(i) + " outside the vocabulary of " +
                             std::to_string(config_.vocab_size));
    }
  }
  return Status::Ok();
}

Status Model::CheckNoLossBefore(std::span<const float> weights, int head_from) {
  for (size_t t = 0; t < static_cast<size_t>(head_from); t++) {
    if (weights[t] != 0.0f) {
      return InvalidArgument("shared token " + std::to_string(t) + " of the tree has loss weight " +
                             std::to_string(weights[t]) + " (the output head skips the shared tokens unless the " +
                             "forward was asked for their loss)");
    }
  }
  return Status::Ok();
}

StatusOr<float> Model::Forward(std::span<const int> tokens, std::span<const int> targets,
                               std::span<const float> weights, int B, int T) {
  if (B <= 0 || T <= 0 || T > config_.max_seq) {
    return InvalidArgument("forward: batch " + std::to_string(B) + "x" + std::to_string(T) +
                           " (T must be in 1.." + std::to_string(config_.max_seq) + ")");
  }
  const size_t N = static_cast<size_t>(B) * static_cast<size_t>(T);
  if (Status s = CheckTokens(tokens, targets, weights, N); !s.ok()) return s;
  std::vector<int> pos(N);
  for (size_t n = 0; n < N; n++) pos[n] = static_cast<int>(n % static_cast<size_t>(T));
  return Run(tokens, targets, weights, B, T, pos, {}, 0, 0);
}

StatusOr<float> Model::ForwardTree(std::span<const int> tokens, std::span<const int> targets,
                                   std::span<const float> weights, int prefix, std::span<const int> first,
                                   bool shared_loss) {
  const size_t N = tokens.size();
  if (N == 0 || N > static_cast<size_t>(kMaxTreeTokens)) {
    return InvalidArgument("forward tree: " + std::to_string(N) + " tokens (must be 1.." +
                           std::to_string(kMaxTreeTokens) + ")");
  }
  if (Status s = CheckTokens(tokens, targets, weights, N); !s.ok()) return s.WithContext("tree");
  if (first.size() != N || prefix < 0 || static_cast<size_t>(prefix) > N) {
    return InvalidArgument("forward tree: " + std::to_string(first.size()) + " branch starts for " +
                           std::to_string(N) + " tokens with prefix " + std::to_string(prefix));
  }
  const int head_from = shared_loss ? 0 : prefix;
  if (Status s = CheckNoLossBefore(weights, head_from); !s.ok()) return s.WithContext("forward tree");
  std::vector<int> pos(N);
  for (size_t t = 0; t < N; t++) {
    const int ti = static_cast<int>(t);
    const int f = first[t];
    const bool ok = ti < prefix ? f == 0
                                : f >= prefix && f <= ti && (f == ti || (t > 0 && f == first[t - 1]));
    if (!ok) {
      return InvalidArgument("forward tree: token " + std::to_string(t) + " has branch start " + std::to_string(f) +
                             " (shared tokens have 0; a branch is a run of tokens starting at or after the prefix " +
                             std::to_string(prefix) + " and at its own first token)");
    }
    pos[t] = ti < prefix ? ti : prefix + ti - f;
    if (pos[t] >= config_.max_seq) {
      return InvalidArgument("forward tree: token " + std::to_string(t) + " sits at position " +
                             std::to_string(pos[t]) + ", past max_seq " + std::to_string(config_.max_seq));
    }
  }
  return Run(tokens, targets, weights, 1, static_cast<int>(N), pos, first, prefix, head_from);
}

StatusOr<float> Model::Run(std::span<const int> tokens, std::span<const int> targets, std::span<const float> weights,
                           int B, int T, std::span<const int> pos, std::span<const int> first, int prefix,
                           int head_from) {
  const ModelConfig& c = config_;
  const size_t N = static_cast<size_t>(B) * static_cast<size_t>(T);
  EnsureActivations(B, T);
  Activations& a = *acts_;
  Backend& be = backend_;
  const int n = static_cast<int>(N);
  const auto [C, hd, KV, H, V] = c.dims();
  be.Upload(a.tokens, tokens.data(), N * sizeof(int));
  be.Upload(a.targets, targets.data(), N * sizeof(int));
  be.Upload(a.weights, weights.data(), N * sizeof(float));
  be.Upload(a.pos, pos.data(), N * sizeof(int));
  a.mask_first = nullptr;
  a.prefix = first.empty() ? 0 : prefix;
  a.head_from = head_from;
  if (!first.empty()) {
    be.Upload(a.first, first.data(), N * sizeof(int));
    a.mask_first = a.first;
  }

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
    be.AttentionForward(y.atty, y.att, y.q, y.k, y.v, B, T, c.n_heads, c.n_kv_heads, hd, a.mask_first,
                        a.prefix);  // (B,T,NH,hd)
    be.Matmul(a.scratch, y.atty, w.wo, n, C, C);
    be.Add(y.mid, x, a.scratch, N * static_cast<size_t>(C));
    be.RmsNormForward(y.ln2, y.rstd2, y.mid, w.ffn_norm, n, C, c.norm_eps);
    be.Matmul(y.h1, y.ln2, w.w1, n, C, H);  // (N,C) -> (N,H)
    be.Matmul(y.h3, y.ln2, w.w3, n, C, H);
    be.SwigluForward(y.g, y.h1, y.h3, n, H);
    be.Matmul(a.scratch, y.g, w.w2, n, H, C);  // (N,H) -> (N,C)
    be.Add(a.resid[static_cast<size_t>(l) + 1], y.mid, a.scratch, N * static_cast<size_t>(C));
  }
  // The output head, the costliest op of a small model, runs from row head_from on: a tree's
  // shared rows only feed its branches unless they carry a loss of their own.
  const size_t h0 = static_cast<size_t>(a.head_from);
  const int head = n - a.head_from;
  const size_t hC = h0 * static_cast<size_t>(C), hV = h0 * static_cast<size_t>(V);
  be.Zero(a.logits, hV);
  be.Zero(a.losses, h0);
  be.RmsNormForward(a.lnf + hC, a.rstdf + h0, a.resid.back() + hC, weights_.final_norm, head, C, c.norm_eps);
  be.Matmul(a.logits + hV, a.lnf + hC, weights_.wout, head, C, V);  // (N,C) -> (N,V)
  be.CrossEntropyForward(a.losses + h0, a.logits + hV, a.targets + h0, head, V);
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
  if (Status s = CheckNoLossBefore(weights, acts_->head_from); !s.ok()) return s.WithContext("set loss weights");
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

  const size_t h0 = static_cast<size_t>(a.head_from);  // the head's first row, as in Run
  const int head = n - a.head_from;
  const size_t hC = h0 * static_cast<size_t>(C), hV = h0 * static_cast<size_t>(V);
  be.CrossEntropyBackward(a.dlogits + hV, a.logits + hV, a.targets + h0, a.weights + h0, head, V);  // (N,V)
  be.Zero(a.dlnf, NC);
  be.MatmulBackward(a.dlnf + hC, dw.wout, a.dlogits + hV, a.lnf + hC, weights_.wout, head, C, V);
  be.Zero(a.dresid, NC);
  be.RmsNormBackward(a.dresid + hC, dw.final_norm, a.dlnf + hC, a.resid.back() + hC, weights_.final_norm,
                     a.rstdf + h0, head, C);
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
    be.AttentionBackward(a.dq, a.dk, a.dv, a.datty, y.att, y.q, y.k, y.v, B, T, c.n_heads, c.n_kv_heads, hd,
                         a.mask_first, a.prefix);
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
