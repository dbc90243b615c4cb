// The ops the model runs, behind one interface so a CUDA backend can implement the same set
// beside the CPU reference (llm.c style: every op has a CPU twin a GPU test compares against).
//
// Pointers passed to ops live in the backend's memory (host for the CPU backend, device memory
// for a GPU one); only Upload/Download cross between host and backend memory. Shapes use
// N rows (B*T tokens, or the entries of a decode step), C = dim, V = vocab, NH/NKV heads of hd.
// Matrices are row-major; a weight (OC, C) maps C inputs to OC outputs (out = inp @ weight^T).
// Every *Backward op ACCUMULATES (+=) into its gradient outputs; the caller zeroes them.
// Ops are synchronous as seen from the host: Download returns the results of all earlier ops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace rock::policy {

class Backend;

// Backend memory, freed through its backend (RAII). Move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Backend* owner, void* ptr, size_t bytes) : owner_(owner), ptr_(ptr), bytes_(bytes) {}
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  Backend* owner_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Zero-filled memory. Aborts when memory runs out (as std::vector does).
  virtual DeviceBuffer Alloc(size_t bytes) = 0;
  virtual void Free(void* ptr) = 0;
  virtual void Upload(void* dst, const void* src, size_t bytes) = 0;
  virtual void Download(void* dst, const void* src, size_t bytes) = 0;
  // Backend memory to backend memory (device to device); the ranges must not overlap.
  virtual void Copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void Zero(float* x, size_t n) = 0;
  // dst (n) += src (n)
  virtual void Accumulate(float* dst, const float* src, size_t n) = 0;
  // out (n) = a (n) + b (n); out may alias a
  virtual void Add(float* out, const float* a, const float* b, size_t n) = 0;

  // tokens (N) , wte (V,C) -> out (N,C)
  virtual void EmbeddingForward(float* out, const int* tokens, const float* wte, int N, int C) = 0;
  // dout (N,C) -> dwte (V,C) +=
  virtual void EmbeddingBackward(float* dwte, const float* dout, const int* tokens, int N, int C) = 0;

  // inp (N,C), weight (C) -> out (N,C), rstd (N) kept for the backward
  virtual void RmsNormForward(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                              float eps) = 0;
  // dout (N,C) -> dinp (N,C) +=, dweight (C) +=
  virtual void RmsNormBackward(float* dinp, float* dweight, const float* dout, const float* inp,
                               const float* weight, const float* rstd, int N, int C) = 0;

  // inp (N,C), weight (OC,C) -> out (N,OC)
  virtual void Matmul(float* out, const float* inp, const float* weight, int N, int C, int OC) = 0;
  // dout (N,OC) -> dinp (N,C) +=, dweight (OC,C) +=
  virtual void MatmulBackward(float* dinp, float* dweight, const float* dout, const float* inp,
                              const float* weight, int N, int C, int OC) = 0;

  // x (N, H, hd) rotated in place by angle pos[n] * theta^(-2i/hd) on channel pairs (2i, 2i+1).
  // inverse = true rotates back, which is also the backward of the forward rotation.
  virtual void Rope(float* x, const int* pos, int N, int H, int hd, float theta, bool inverse) = 0;

  // Causal grouped-query attention over B sequences of T tokens:
  // q (B,T,NH,hd), k,v (B,T,NKV,hd) -> out (B,T,NH,hd), att (B,NH,T,T) softmax kept for backward.
  // With first (B,T) non-null each row packs a prefix tree: token t sees key s <= t only where
  // s < prefix or s >= first[t], so a branch (the tokens sharing one first >= prefix) attends
  // to the shared tokens 0..prefix-1 and to itself, not to the branches before it. With first
  // null (prefix ignored) attention is plainly causal.
  virtual void AttentionForward(float* out, float* att, const float* q, const float* k, const float* v, int B,
                                int T, int NH, int NKV, int hd, const int* first, int prefix) = 0;
  // dout (B,T,NH,hd) -> dq (B,T,NH,hd) +=, dk, dv (B,T,NKV,hd) +=; first and prefix as above
  virtual void AttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* att,
                                 const float* q, const float* k, const float* v, int B, int T, int NH, int NKV,
                                 int hd, const int* first, int prefix) = 0;

  // Decoding: entry n is token position pos[n] of cache slot slot[n]. Writes its k, v
  // (N,NKV,hd) into kcache, vcache (S,max_seq,NKV,hd) first, then attends q (N,NH,hd) over
  // positions 0..pos[n] of its slot -> out (N,NH,hd). Entries of one slot in one call must
  // cover consecutive positions, so a whole prompt is one call.
  virtual void AttentionDecode(float* out, float* kcache, float* vcache, const float* q, const float* k,
                               const float* v, const int* slot, const int* pos, int N, int NH, int NKV, int hd,
                               int max_seq) = 0;

  // gate, up (N,H) -> out (N,H) = silu(gate) * up; out may alias gate (elementwise)
  virtual void SwigluForward(float* out, const float* gate, const float* up, int N, int H) = 0;
  // dout (N,H) -> dgate, dup (N,H) +=
  virtual void SwigluBackward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                              int N, int H) = 0;

  // logits (N,V), targets (N) -> losses (N) = -log softmax(logits)[target]
  virtual void CrossEntropyForward(float* losses, const float* logits, const int* targets, int N, int V) = 0;
  // dlogits (N,V) = weights[n] * (softmax(logits[n]) - onehot(target[n])); overwrites, not +=,
  // and dlogits may alias logits. The loss is sum_n weights[n] * losses[n].
  virtual void CrossEntropyBackward(float* dlogits, const float* logits, const int* targets, const float* weights,
                                    int N, int V) = 0;
  // inp (N,V) -> out (N,V) log-softmax of each row
  virtual void LogSoftmax(float* out, const float* inp, int N, int V) = 0;

  // sum of x[i]^2 over n values, in a fixed order so training is reproducible
  virtual double SumSquares(const float* x, size_t n) = 0;
  // One AdamW update (decoupled weight decay) of n parameters with grad scaled by grad_scale;
  // bias corrections for the given step (1-based).
  virtual void AdamW(float* param, float* m, float* v, const float* grad, size_t n, float lr, float beta1,
                     float beta2, float eps, float weight_decay, float grad_scale, int64_t step) = 0;
};

}  // namespace rock::policy
