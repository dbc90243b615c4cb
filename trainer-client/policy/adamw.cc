#include "trainer-client/policy/adamw.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

namespace rock::policy {

float LearningRate(const AdamWConfig& c, int64_t step) {
  if (c.warmup_steps > 0 && step <= c.warmup_steps) {
    return c.lr * static_cast<float>(step) / static_cast<float>(c.warmup_steps);
  }
  if (step >= c.total_steps) return c.min_lr;
  const double progress = static_cast<double>(step - c.warmup_steps) /
                          static_cast<double>(std::max<int64_t>(1, c.total_steps - c.warmup_steps));
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return c.min_lr + static_cast<float>(cosine) * (c.lr - c.min_lr);
}

AdamW::AdamW(Model& model, AdamWConfig config)
    : model_(model),
      config_(config),
      m_(model.backend().Alloc(model.num_params() * sizeof(float))),
      v_(model.backend().Alloc(model.num_params() * sizeof(float))) {}

float AdamW::Step() {
  Backend& be = model_.backend();
  const double norm = std::sqrt(be.SumSquares(model_.grads(), model_.num_params()));
  // Scale the whole gradient so its norm is at most clip_norm; its direction is kept.
  float scale = 1.0f;
  if (config_.clip_norm > 0.0f && norm > config_.clip_norm) scale = static_cast<float>(config_.clip_norm / norm);
  step_++;
  const float lr = LearningRate(config_, step_);
  for (const TensorInfo& t : model_.tensors()) {
    be.AdamW(model_.params() + t.offset, m_.as<float>() + t.offset, v_.as<float>() + t.offset,
             model_.grads() + t.offset, t.size, lr, config_.beta1, config_.beta2, config_.eps,
             t.weight_decay ? config_.weight_decay : 0.0f, scale, step_);
  }
  return static_cast<float>(norm);
}

std::vector<float> AdamW::DownloadM() const {
  std::vector<float> host(model_.num_params());
  model_.backend().Download(host.data(), m_.as<float>(), host.size() * sizeof(float));
  return host;
}

std::vector<float> AdamW::DownloadV() const {
  std::vector<float> host(model_.num_params());
  model_.backend().Download(host.data(), v_.as<float>(), host.size() * sizeof(float));
  return host;
}

Status AdamW::Restore(std::span<const float> m, std::span<const float> v, int64_t step) {
  if (m.size() != model_.num_params() || v.size() != model_.num_params() || step < 0) {
    return InvalidArgument("optimizer state: " + std::to_string(m.size()) + "/" + std::to_string(v.size()) +
                           " moments for " + std::to_string(model_.num_params()) + " parameters, step " +
                           std::to_string(step));
  }
  model_.backend().Upload(m_.as<float>(), m.data(), m.size_bytes());
  model_.backend().Upload(v_.as<float>(), v.data(), v.size_bytes());
  step_ = step;
  return Status::Ok();
}

}  // namespace rock::policy
