#include "trainer-client/policy/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "trainer-client/policy/cpu_ops.h"

namespace rock::policy {

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (ptr_ != nullptr) owner_->Free(ptr_);
    owner_ = std::exchange(other.owner_, nullptr);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != nullptr) owner_->Free(ptr_);
}

DeviceBuffer CpuBackend::Alloc(size_t bytes) {
  // 64-byte aligned for vector loads; at least one byte so an empty tensor has an address.
  const size_t rounded = (bytes + 63) / 64 * 64 + 64;
  void* ptr = std::aligned_alloc(64, rounded);
  if (ptr == nullptr) throw std::bad_alloc();
  std::memset(ptr, 0, rounded);
  return DeviceBuffer(this, ptr, bytes);
}

void CpuBackend::Free(void* ptr) { std::free(ptr); }
void CpuBackend::Upload(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::Download(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::Copy(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::Zero(float* x, size_t n) { std::memset(x, 0, n * sizeof(float)); }

void CpuBackend::Accumulate(float* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

void CpuBackend::Add(float* out, const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void CpuBackend::EmbeddingForward(float* out, const int* tokens, const float* wte, int N, int C) {
  cpu::EmbeddingForward(out, tokens, wte, N, C);
}
void CpuBackend::EmbeddingBackward(float* dwte, const float* dout, const int* tokens, int N, int C) {
  cpu::EmbeddingBackward(dwte, dout, tokens, N, C);
}
void CpuBackend::RmsNormForward(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                                float eps) {
  cpu::RmsNormForward(out, rstd, inp, weight, N, C, eps);
}
void CpuBackend::RmsNormBackward(float* dinp, float* dweight, const float* dout, const float* inp,
                                 const float* weight, const float* rstd, int N, int C) {
  cpu::RmsNormBackward(dinp, dweight, dout, inp, weight, rstd, N, C);
}
void CpuBackend::Matmul(float* out, const float* inp, const float* weight, int N, int C, int OC) {
  cpu::Matmul(out, inp, weight, N, C, OC);
}
void CpuBackend::MatmulBackward(float* dinp, float* dweight, const float* dout, const float* inp,
                                const float* weight, int N, int C, int OC) {
  cpu::MatmulBackward(dinp, dweight, dout, inp, weight, N, C, OC);
}
void CpuBackend::Rope(float* x, const int* pos, int N, int H, int hd, float theta, bool inverse) {
  cpu::Rope(x, pos, N, H, hd, theta, inverse);
}
void CpuBackend::AttentionForward(float* out, float* att, const float* q, const float* k, const float* v, int B,
                                  int T, int NH, int NKV, int hd, const int* first, int prefix) {
  cpu::AttentionForward(out, att, q, k, v, B, T, NH, NKV, hd, first, prefix);
}
void CpuBackend::AttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* att,
                                   const float* q, const float* k, const float* v, int B, int T, int NH, int NKV,
                                   int hd, const int* first, int prefix) {
  cpu::AttentionBackward(dq, dk, dv, dout, att, q, k, v, B, T, NH, NKV, hd, first, prefix);
}
void CpuBackend::AttentionDecode(float* out, float* kcache, float* vcache, const float* q, const float* k,
                                 const float* v, const int* slot, const int* pos, int N, int NH, int NKV, int hd,
                                 int max_seq) {
  cpu::AttentionDecode(out, kcache, vcache, q, k, v, slot, pos, N, NH, NKV, hd, max_seq);
}
void CpuBackend::SwigluForward(float* out, const float* gate, const float* up, int N, int H) {
  cpu::SwigluForward(out, gate, up, N, H);
}
void CpuBackend::SwigluBackward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                                int N, int H) {
  cpu::SwigluBackward(dgate, dup, dout, gate, up, N, H);
}
void CpuBackend::CrossEntropyForward(float* losses, const float* logits, const int* targets, int N, int V) {
  cpu::CrossEntropyForward(losses, logits, targets, N, V);
}
void CpuBackend::CrossEntropyBackward(float* dlogits, const float* logits, const int* targets,
                                      const float* weights, int N, int V) {
  cpu::CrossEntropyBackward(dlogits, logits, targets, weights, N, V);
}
void CpuBackend::LogSoftmax(float* out, const float* inp, int N, int V) { cpu::LogSoftmax(out, inp, N, V); }
double CpuBackend::SumSquares(const float* x, size_t n) { return cpu::SumSquares(x, n); }
void CpuBackend::AdamW(float* param, float* m, float* v, const float* grad, size_t n, float lr, float beta1,
                       float beta2, float eps, float weight_decay, float grad_scale, int64_t step) {
  cpu::AdamW(param, m, v, grad, n, lr, beta1, beta2, eps, weight_decay, grad_scale, step);
}

}  // namespace rock::policy
