// Shared helpers of the policy tests: tiny configs and models with large random weights (the
// N(0, 0.02) init gives near-uniform outputs, which would let a wrong op pass a comparison).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "trainer-client/policy/cpu_backend.h"
#include "trainer-client/policy/model.h"

namespace rock::policy::testing {

inline ModelConfig TinyConfig() {
  ModelConfig c;
  c.dim = 16;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.hidden_dim = 24;
  c.vocab_size = 20;
  c.max_seq = 16;
  return c;
}

inline std::vector<float> RandomVector(size_t n, uint64_t seed, float stddev = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> out(n);
  for (float& x : out) x = dist(rng);
  return out;
}

inline std::unique_ptr<Model> MakeModel(Backend& backend, const ModelConfig& config, uint64_t seed,
                                        float stddev = 0.0f) {
  auto model = Model::Create(backend, config, seed);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (stddev > 0.0f) {
    // Norm gains stay around 1; matrices get weights big enough to make every op matter.
    std::vector<float> p = RandomVector((*model)->num_params(), seed + 1, stddev);
    for (const TensorInfo& t : (*model)->tensors()) {
      if (t.shape.size() == 1) {
        for (size_t i = 0; i < t.size; i++) p[t.offset + i] = 1.0f + 0.3f * p[t.offset + i];
      }
    }
    EXPECT_TRUE((*model)->UploadParams(p).ok());
  }
  return std::move(model).value();
}

inline std::vector<int> RandomTokens(size_t n, int vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int> out(n);
  for (int& t : out) t = static_cast<int>(rng() % static_cast<uint64_t>(vocab));
  return out;
}

}  // namespace rock::policy::testing
