#include "trainer-client/policy/config.h"

#include <cmath>
#include <string>

namespace rock::policy {

size_t ModelConfig::num_params() const {
  const size_t c = static_cast<size_t>(dim);
  const size_t kv = static_cast<size_t>(n_kv_heads) * static_cast<size_t>(head_dim());
  const size_t per_layer = 2 * c                                // attention and FFN norms
                           + c * c + 2 * kv * c + c * c         // wq, wk, wv, wo
                           + 3 * static_cast<size_t>(hidden_dim) * c;  // w1, w3, w2
  const size_t embed = static_cast<size_t>(vocab_size) * c;
  return embed + static_cast<size_t>(n_layers) * per_layer + c + (tied_embeddings ? 0 : embed) +
         static_cast<size_t>(match_slots);
}

namespace {

Status Positive(const char* field, int value) {
  if (value > 0) return Status::Ok();
  return InvalidArgument(std::string(field) + " (" + std::to_string(value) + ") must be positive");
}

}  // namespace

Status Validate(const ModelConfig& c) {
  for (auto [field, value] : {std::pair{"dim", c.dim}, std::pair{"n_layers", c.n_layers},
                              std::pair{"n_heads", c.n_heads}, std::pair{"n_kv_heads", c.n_kv_heads},
                              std::pair{"hidden_dim", c.hidden_dim}, std::pair{"vocab_size", c.vocab_size},
                              std::pair{"max_seq", c.max_seq}}) {
    if (Status s = Positive(field, value); !s.ok()) return s;
  }
  if (c.dim % c.n_heads != 0) {
    return InvalidArgument("n_heads (" + std::to_string(c.n_heads) + ") must divide dim (" + std::to_string(c.dim) + ")");
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    return InvalidArgument("n_kv_heads (" + std::to_string(c.n_kv_heads) + ") must divide n_heads (" +
                           std::to_string(c.n_heads) + ")");
  }
  // RoPE rotates pairs of channels within a head.
  if (c.head_dim() % 2 != 0) {
    return InvalidArgument("dim / n_heads (" + std::to_string(c.head_dim()) + ") must be even for rotary embeddings");
  }
  if (c.match_slots < 0 || c.match_slots > kMaxMatchSlots) {
    return InvalidArgument("match_slots (" + std::to_string(c.match_slots) + ") must be 0 to " +
                           std::to_string(kMaxMatchSlots));
  }
  if (!(c.rope_theta > 1.0f) || !std::isfinite(c.rope_theta)) {
    return InvalidArgument("rope_theta (" + std::to_string(c.rope_theta) + ") must be a finite number above 1");
  }
  if (!(c.norm_eps > 0.0f) || !std::isfinite(c.norm_eps)) {
    return InvalidArgument("norm_eps (" + std::to_string(c.norm_eps) + ") must be a finite positive number");
  }
  return Status::Ok();
}

}  // namespace rock::policy
