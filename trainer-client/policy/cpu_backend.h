// The CPU reference backend: host memory, ops from cpu_ops.h. Thread-safe as far as distinct
// buffers go; the model does not share buffers between threads.
#pragma once

#include "trainer-client/policy/backend.h"

namespace rock::policy {

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  DeviceBuffer Alloc(size_t bytes) override;
  void Free(void* ptr) override;
  void Upload(void* dst, const void* src, size_t bytes) override;
  void Download(void* dst, const void* src, size_t bytes) override;
  void Copy(void* dst, const void* src, size_t bytes) override;
  void Zero(float* x, size_t n) override;
  void Accumulate(float* dst, const float* src, size_t n) override;
  void Add(float* out, const float* a, const float* b, size_t n) override;
  void EmbeddingForward(float* out, const int* tokens, const float* wte, int N, int C) override;
  void EmbeddingBackward(float* dwte, const float* dout, const int* tokens, int N, int C) override;
  void RmsNormForward(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                      float eps) override;
  void RmsNormBackward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                       const float* rstd, int N, int C) override;
  void Matmul(float* out, const float* inp, const float* weight, int N, int C, int OC) override;
  void MatmulBackward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight, int N,
                      int C, int OC) override;
  void Rope(float* x, const int* pos, int N, int H, int hd, float theta, bool inverse) override;
  void AttentionForward(float* out, float* att, const float* q, const float* k, const float* v, int B, int T,
                        int NH, int NKV, int hd, const int* first, int prefix) override;
  void AttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* att, const float* q,
                         const float* k, const float* v, int B, int T, int NH, int NKV, int hd, const int* first,
                         int prefix) override;
  void AttentionDecode(float* out, float* kcache, float* vcache, const float* q, const float* k, const float* v,
                       const int* slot, const int* pos, int N, int NH, int NKV, int hd, int max_seq) override;
  void SwigluForward(float* out, const float* gate, const float* up, int N, int H) override;
  void SwigluBackward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int N,
                      int H) override;
  void CrossEntropyForward(float* losses, const float* logits, const int* targets, int N, int V) override;
  void CrossEntropyBackward(float* dlogits, const float* logits, const int* targets, const float* weights, int N,
                            int V) override;
  void LogSoftmax(float* out, const float* inp, int N, int V) override;
  double SumSquares(const float* x, size_t n) override;
  void AdamW(float* param, float* m, float* v, const float* grad, size_t n, float lr, float beta1, float beta2,
             float eps, float weight_decay, float grad_scale, int64_t step) override;
};

}  // namespace rock::policy
