// The CPU reference of every op in backend.h, as plain functions over host memory: clear loops,
// OpenMP over independent outputs (each output is summed by one thread in a fixed order, so
// results do not depend on the thread count). CpuBackend forwards to these; a GPU backend's
// tests compare against them. Shapes and semantics are those documented in backend.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rock::policy::cpu {

void EmbeddingForward(float* out, const int* tokens, const float* wte, int N, int C);
void EmbeddingBackward(float* dwte, const float* dout, const int* tokens, int N, int C);
void RmsNormForward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps);
void RmsNormBackward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                     const float* rstd, int N, int C);
void Matmul(float* out, const float* inp, const float* weight, int N, int C, int OC);
void MatmulBackward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight, int N,
                    int C, int OC);
void Rope(float* x, const int* pos, int N, int H, int hd, float theta, bool inverse);
void AttentionForward(float* out, float* att, const float* q, const float* k, const float* v, int B, int T, int NH,
                      int NKV, int hd, const int* first, int prefix);
void AttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* att, const float* q,
                       const float* k, const float* v, int B, int T, int NH, int NKV, int hd, const int* first,
                       int prefix);
void AttentionDecode(float* out, float* kcache, float* vcache, const float* q, const float* k, const float* v,
                     const int* slot, const int* pos, int N, int NH, int NKV, int hd, int max_seq);
void SwigluForward(float* out, const float* gate, const float* up, int N, int H);
void SwigluBackward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int N, int H);
void CrossEntropyForward(float* losses, const float* logits, const int* targets, int N, int V);
void CrossEntropyBackward(float* dlogits, const float* logits, const int* targets, const float* weights, int N,
                          int V);
// inp (N,V) -> out (N,V) row softmax; out may alias inp
void Softmax(float* out, const float* inp, int N, int V);
void LogSoftmax(float* out, const float* inp, int N, int V);
double SumSquares(const float* x, size_t n);
void AdamW(float* param, float* m, float* v, const float* grad, size_t n, float lr, float beta1, float beta2,
           float eps, float weight_decay, float grad_scale, int64_t step);

}  // namespace rock::policy::cpu
