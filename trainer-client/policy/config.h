// The shape of a Llama-architecture policy. Validate() before building a model: every other
// part assumes the invariants it checks (heads divide dim, kv heads divide heads, even head dim).
#pragma once

#include <cstddef>

#include "common/status.h"

namespace rock::policy {

// A candidate's match slots are bits of one 64-bit mask (candidate_policy.h).
inline constexpr int kMaxMatchSlots = 64;

struct ModelConfig {
  int dim = 64;          // C, the residual stream width
  int n_layers = 2;      // L
  int n_heads = 4;       // NH query heads; head dim hd = dim / n_heads
  int n_kv_heads = 2;    // NKV key/value heads shared by NH/NKV query heads each (GQA)
  int hidden_dim = 128;  // the SwiGLU width
  int vocab_size = 260;  // V; Tokenizer::kFirstWord is bytes and specials only, above it room for words
  int max_seq = 128;     // the longest sequence the KV cache and RoPE serve
  bool tied_embeddings = true;  // the output head reuses the token embedding
  // K learned task-match gains (candidate_policy.h): a copy prior for a policy over candidates;
  // 0: none. They are parameters like the rest, but the transformer itself never reads them.
  int match_slots = 0;
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;

  int head_dim() const { return dim / n_heads; }
  // The sizes the ops take (backend.h): C, hd, KV = NKV * hd, H, V.
  struct Dims {
    int C, hd, KV, H, V;
  };
  Dims dims() const { return {dim, head_dim(), n_kv_heads * head_dim(), hidden_dim, vocab_size}; }
  // Parameter count of the model this config describes.
  size_t num_params() const;
};

// Ok, or InvalidArgument naming the offending field: "n_kv_heads (3) must divide n_heads (4)".
Status Validate(const ModelConfig& config);

}  // namespace rock::policy
