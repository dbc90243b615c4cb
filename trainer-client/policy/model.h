// A decoder-only Llama: token embedding, L blocks of [pre-norm RMSNorm -> GQA attention with
// RoPE -> residual, RMSNorm -> SwiGLU FFN -> residual], final RMSNorm, output head (tied to the
// embedding or not). All parameters live in one backend buffer carved into named tensors
// (tensors() lists them in storage order, which is also the checkpoint order); gradients
// mirror that layout. Not thread-safe: one Forward/Backward at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "trainer-client/policy/backend.h"
#include "trainer-client/policy/config.h"

namespace rock::policy {

struct TensorInfo {
  std::string name;             // "layers.0.wq"
  std::vector<int64_t> shape;   // row-major
  size_t offset = 0;            // in floats from the start of the parameter buffer
  size_t size = 0;              // product of shape
  bool weight_decay = false;    // matrices decay, norm gains do not
};

// Pointers to one set of tensors (parameters or their gradients) in backend memory.
struct LayerTensors {
  float* attn_norm;  // (C)
  float* wq;         // (NH*hd, C)
  float* wk;         // (NKV*hd, C)
  float* wv;         // (NKV*hd, C)
  float* wo;         // (C, NH*hd)
  float* ffn_norm;   // (C)
  float* w1;         // (H, C) gate
  float* w3;         // (H, C) up
  float* w2;         // (C, H) down
};
struct ModelTensors {
  float* wte;         // (V, C)
  std::vector<LayerTensors> layers;
  float* final_norm;  // (C)
  float* wout;        // (V, C); == wte when tied
  float* match_gain;  // (K) ModelConfig::match_slots; null when 0
};

// The tensor table of a config: names, shapes, offsets. Shared by the model and checkpoints.
std::vector<TensorInfo> TensorLayout(const ModelConfig& config);

// weights for Forward that make the loss the mean cross-entropy over positions where mask is
// nonzero (all zero when the mask is empty).
std::vector<float> MaskedMeanWeights(std::span<const uint8_t> mask);

class Model {
 public:
  // Parameters drawn from N(0, 0.02) with a seeded RNG (the output projections wo and w2 scaled
  // by 1/sqrt(2L), GPT-2 style, so the residual stream does not grow with depth); norm gains 1.
  static StatusOr<std::unique_ptr<Model>> Create(Backend& backend, const ModelConfig& config, uint64_t seed);
  ~Model();

  const ModelConfig& config() const { return config_; }
  Backend& backend() const { return backend_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  size_t num_params() const { return num_params_; }
  float* params() const { return params_.as<float>(); }
  float* grads() const { return grads_.as<float>(); }
  const ModelTensors& weights() const { return weights_; }

  std::vector<float> DownloadParams() const;
  std::vector<float> DownloadGrads() const;
  Status UploadParams(std::span<const float> host);
  // The K match gains (candidate_policy.h), empty when match_slots is 0; and grads += g (K).
  std::vector<float> MatchGains() const;
  Status AccumulateMatchGainGrads(std::span<const float> g);

  // Training forward over B sequences of T tokens. tokens, targets, weights are (B,T); the
  // loss is sum weights * -log p(target), so the caller chooses the mean (MaskedMeanWeights)
  // or, for policy gradients, per-token advantages. Keeps the activations for Backward.
  StatusOr<float> Forward(std::span<const int> tokens, std::span<const int> targets,
                          std::span<const float> weights, int B, int T);
  // The training forward over one sequence that packs a prefix tree, the shape of many
  // continuations of one prompt: tokens 0..prefix-1 are shared, and each later token t belongs
  // to the branch that starts at first[t] (prefix <= first[t] <= t; a branch is a run of
  // tokens with one first, and shared tokens have first 0). A branch attends to the shared
  // tokens and to itself only, at positions prefix, prefix + 1, ..., so its losses are those
  // of shared + branch run alone through Forward, while the shared tokens are computed once.
  // Logits, Losses, SetLossWeights and Backward then work on the tree as on a (1, N) batch,
  // except that without shared_loss the shared tokens carry no loss: their weights must be 0,
  // and the output head skips them (their logits and losses read 0). Attention keeps an (N,N)
  // matrix per head, so N is at most kMaxTreeTokens.
  static constexpr int kMaxTreeTokens = 1024;
  StatusOr<float> ForwardTree(std::span<const int> tokens, std::span<const int> targets,
                              std::span<const float> weights, int prefix, std::span<const int> first,
                              bool shared_loss = false);
  // The logits (B,T,V) of the last Forward.
  std::vector<float> Logits() const;
  // The per-position losses -log p(target) (B,T) of the last Forward.
  std::vector<float> Losses() const;
  // Replaces the weights (B,T) of the last Forward, for losses whose weights depend on its own
  // outputs (a policy over candidates weighs each candidate by its probability): Backward then
  // differentiates sum weights * losses without a second forward.
  Status SetLossWeights(std::span<const float> weights);
  void ZeroGrad();
  // grads += d loss / d params for the last Forward. FailedPrecondition without one.
  Status Backward();

 private:
  struct Activations;
  Model(Backend& backend, const ModelConfig& config);
  void EnsureActivations(int B, int T);
  Status CheckTokens(std::span<const int> tokens, std::span<const int> targets, std::span<const float> weights,
                     size_t N) const;
  // InvalidArgument for a nonzero weight on a row the output head skips (rows before head_from).
  static Status CheckNoLossBefore(std::span<const float> weights, int head_from);
  // The forward both entries share: pos (N) are the RoPE positions; first empty for causal;
  // the output head runs on rows head_from.. only.
  StatusOr<float> Run(std::span<const int> tokens, std::span<const int> targets, std::span<const float> weights,
                      int B, int T, std::span<const int> pos, std::span<const int> first, int prefix,
                      int head_from);

  Backend& backend_;
  ModelConfig config_;
  std::vector<TensorInfo> tensors_;
  size_t num_params_ = 0;
  DeviceBuffer params_;
  DeviceBuffer grads_;
  ModelTensors weights_;
  ModelTensors grad_tensors_;
  std::unique_ptr<Activations> acts_;
};

}  // namespace rock::policy
