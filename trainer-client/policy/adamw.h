// AdamW with decoupled weight decay, global-norm gradient clipping and a linear-warmup +
// cosine-decay learning rate. Its moments live in the model's backend, laid out like the
// parameters. The model must outlive the optimizer.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"
#include "trainer-client/policy/model.h"

namespace rock::policy {

struct AdamWConfig {
  float lr = 3e-4f;         // peak learning rate, reached after warmup_steps
  float min_lr = 3e-5f;     // the cosine ends here at total_steps and stays
  int64_t warmup_steps = 10;
  int64_t total_steps = 1000;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;  // matrices only (TensorInfo::weight_decay), not norm gains
  float clip_norm = 1.0f;     // global gradient L2 norm bound; <= 0: no clipping
};

// The learning rate of 1-based step: lr * step / warmup during warmup, then cosine to min_lr.
float LearningRate(const AdamWConfig& config, int64_t step);

class AdamW {
 public:
  AdamW(Model& model, AdamWConfig config);

  // One update from the model's gradients. Returns the gradient norm before clipping.
  float Step();
  int64_t step() const { return step_; }
  const AdamWConfig& config() const { return config_; }

  std::vector<float> DownloadM() const;
  std::vector<float> DownloadV() const;
  // Restores the state of a checkpoint: moments as laid out by the model, and the step count.
  Status Restore(std::span<const float> m, std::span<const float> v, int64_t step);

 private:
  Model& model_;
  AdamWConfig config_;
  DeviceBuffer m_;
  DeviceBuffer v_;
  int64_t step_ = 0;
};

}  // namespace rock::policy
