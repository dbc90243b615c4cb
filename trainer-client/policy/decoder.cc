#include "trainer-client/policy/decoder.h"

#include <string>
#include <utility>

namespace rock::policy {

Decoder::Decoder(const Model& model, int slots, int max_seq) : model_(model), slots_(slots), max_seq_(max_seq) {}

StatusOr<std::unique_ptr<Decoder>> Decoder::Create(const Model& model, int slots, int max_seq) {
  const ModelConfig& c = model.config();
  if (slots <= 0) return InvalidArgument("decoder: slots (" + std::to_string(slots) + ") must be positive");
  if (max_seq <= 0 || max_seq > c.max_seq) {
    return InvalidArgument("decoder: max_seq (" + std::to_string(max_seq) + ") must be in 1.." +
                           std::to_string(c.max_seq) + ", the model's max_seq");
  }
  std::unique_ptr<Decoder> d(new Decoder(model, slots, max_seq));
  const size_t cache = static_cast<size_t>(c.n_layers) * static_cast<size_t>(slots) * static_cast<size_t>(max_seq) *
                       static_cast<size_t>(c.n_kv_heads) * static_cast<size_t>(c.head_dim());
  d->kcache_ = model.backend().Alloc(cache * sizeof(float));
  d->vcache_ = model.backend().Alloc(cache * sizeof(float));
  return d;
}

void Decoder::EnsureCapacity(size_t n) {
  if (n <= capacity_) return;
  const ModelConfig& c = model_.config();
  const size_t C = static_cast<size_t>(c.dim);
  const size_t KV = static_cast<size_t>(c.n_kv_heads) * static_cast<size_t>(c.head_dim());
  const size_t H = static_cast<size_t>(c.hidden_dim);
  const size_t V = static_cast<size_t>(c.vocab_size);
  // x, ln, q, atty, scratch (N,C); rstd (N); k, v (N,KV); h1, h3 (N,H); logits, logp (N,V)
  floats_ = model_.backend().Alloc(n * (5 * C + 1 + 2 * KV + 2 * H + 2 * V) * sizeof(float));
  ints_ = model_.backend().Alloc(3 * n * sizeof(int));
  capacity_ = n;
}

StatusOr<std::vector<float>> Decoder::Step(std::span<const DecodeEntry> entries) {
  const ModelConfig& c = model_.config();
  if (entries.empty()) return std::vector<float>{};
  const size_t N = entries.size();
  std::vector<int> host(3 * N);
  for (size_t i = 0; i < N; i++) {
    const DecodeEntry& e = entries[i];
    if (e.slot < 0 || e.slot >= slots_ || e.pos < 0 || e.pos >= max_seq_ || e.token < 0 || e.token >= c.vocab_size) {
      return InvalidArgument("decode entry " + std::to_string(i) + " (slot " + std::to_string(e.slot) + ", pos " +
                             std::to_string(e.pos) + ", token " + std::to_string(e.token) + ") is outside " +
                             std::to_string(slots_) + " slots x " + std::to_string(max_seq_) + " positions x " +
                             std::to_string(c.vocab_size) + " tokens");
    }
    host[i] = e.token;
    host[N + i] = e.slot;
    host[2 * N + i] = e.pos;
  }
  EnsureCapacity(N);
  Backend& be = model_.backend();
  const ModelTensors& w = model_.weights();
  const int n = static_cast<int>(N);
  const auto [C, hd, KV, H, V] = c.dims();
  const size_t NC = N * static_cast<size_t>(C);
  int* tokens = ints_.as<int>();
  int* slot = tokens + N;
  int* pos = slot + N;
  be.Upload(tokens, host.data(), host.size() * sizeof(int));
  float* p = floats_.as<float>();
  auto take = [&p](size_t count) { return std::exchange(p, p + count); };
  float* x = take(NC);
  float* ln = take(NC);
  float* q = take(NC);
  float* atty = take(NC);
  float* scratch = take(NC);
  float* rstd = take(N);
  float* k = take(N * static_cast<size_t>(KV));
  float* v = take(N * static_cast<size_t>(KV));
  float* h1 = take(N * static_cast<size_t>(H));
  float* h3 = take(N * static_cast<size_t>(H));
  float* logits = take(N * static_cast<size_t>(V));
  float* logp = take(N * static_cast<size_t>(V));

  // The training forward's sequence of ops, row by row, with attention over the cache.
  const size_t layer_cache = static_cast<size_t>(slots_) * static_cast<size_t>(max_seq_) * static_cast<size_t>(KV);
  be.EmbeddingForward(x, tokens, w.wte, n, C);  // (N,C)
  for (int l = 0; l < c.n_layers; l++) {
    const LayerTensors& lw = w.layers[static_cast<size_t>(l)];
    be.RmsNormForward(ln, rstd, x, lw.attn_norm, n, C, c.norm_eps);
    be.Matmul(q, ln, lw.wq, n, C, C);  // (N,NH*hd)
    be.Matmul(k, ln, lw.wk, n, C, KV);  // (N,NKV*hd)
    be.Matmul(v, ln, lw.wv, n, C, KV);
    be.Rope(q, pos, n, c.n_heads, hd, c.rope_theta, false);
    be.Rope(k, pos, n, c.n_kv_heads, hd, c.rope_theta, false);
    float* kc = kcache_.as<float>() + static_cast<size_t>(l) * layer_cache;
    float* vc = vcache_.as<float>() + static_cast<size_t>(l) * layer_cache;
    be.AttentionDecode(atty, kc, vc, q, k, v, slot, pos, n, c.n_heads, c.n_kv_heads, hd, max_seq_);
    be.Matmul(scratch, atty, lw.wo, n, C, C);
    be.Add(x, x, scratch, NC);
    be.RmsNormForward(ln, rstd, x, lw.ffn_norm, n, C, c.norm_eps);
    be.Matmul(h1, ln, lw.w1, n, C, H);
    be.Matmul(h3, ln, lw.w3, n, C, H);
    be.SwigluForward(h1, h1, h3, n, H);  // elementwise, so in place is safe
    be.Matmul(scratch, h1, lw.w2, n, H, C);
    be.Add(x, x, scratch, NC);
  }
  // The rows that want log-probs, moved up in order to the front of x (row m <= i, so each is
  // read before anything overwrites it), then the head over those M rows only.
  size_t M = 0;
  for (size_t i = 0; i < N; i++) {
    if (!entries[i].logits) continue;
    if (M != i) be.Copy(x + M * static_cast<size_t>(C), x + i * static_cast<size_t>(C), C * sizeof(float));
    M++;
  }
  if (M == 0) return std::vector<float>{};
  const int m = static_cast<int>(M);
  be.RmsNormForward(ln, rstd, x, w.final_norm, m, C, c.norm_eps);
  be.Matmul(logits, ln, w.wout, m, C, V);  // (M,V)
  be.LogSoftmax(logp, logits, m, V);
  std::vector<float> out(M * static_cast<size_t>(V));
  be.Download(out.data(), logp, out.size() * sizeof(float));
  return out;
}

Status Decoder::CopyPrefix(int from, int to, int len) {
  if (from < 0 || from >= slots_ || to < 0 || to >= slots_ || from == to || len < 0 || len > max_seq_) {
    return InvalidArgument("copy prefix: slot " + std::to_string(from) + " -> slot " + std::to_string(to) + ", " +
                           std::to_string(len) + " positions (need two distinct slots of " + std::to_string(slots_) +
                           " and at most " + std::to_string(max_seq_) + " positions)");
  }
  const ModelConfig& c = model_.config();
  // A layer's cache is (S, max_seq, NKV, hd), so a slot's first len positions are one
  // contiguous run of len * NKV * hd floats.
  const size_t row = static_cast<size_t>(c.n_kv_heads) * static_cast<size_t>(c.head_dim());
  const size_t slot_stride = static_cast<size_t>(max_seq_) * row;
  const size_t layer_stride = static_cast<size_t>(slots_) * slot_stride;
  const size_t bytes = static_cast<size_t>(len) * row * sizeof(float);
  Backend& be = model_.backend();
  for (DeviceBuffer* cache : {&kcache_, &vcache_}) {
    for (size_t l = 0; l < static_cast<size_t>(c.n_layers); l++) {
      float* layer = cache->as<float>() + l * layer_stride;
      be.Copy(layer + static_cast<size_t>(to) * slot_stride, layer + static_cast<size_t>(from) * slot_stride, bytes);
    }
  }
  return Status::Ok();
}

}  // namespace rock::policy
