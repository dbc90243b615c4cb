// The control protocol between rockd and a sandbox's worker: frames of a 4-byte big-endian
// length and then one JSON object. A frame over kMaxFrameBytes or that is not a JSON object
// is a protocol error: the peer is treated as broken, never trusted to resynchronise.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace rock::sandbox {

inline constexpr uint32_t kMaxFrameBytes = 64u << 20;

std::string EncodeFrame(const nlohmann::json& message);

// Incremental decoder for a byte stream (the async side in rockd).
class FrameDecoder {
 public:
  void Append(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete message; nullopt when more bytes are needed; Corruption on bad input.
  StatusOr<std::optional<nlohmann::json>> Next();
  std::size_t buffered() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  std::size_t offset_ = 0;
};

// Blocking whole-frame I/O on a file descriptor (a socket or a pipe). EINTR is retried. A
// writer whose peer may die must ignore SIGPIPE (rockd does) to get EPIPE instead.
Status WriteFrame(int fd, const nlohmann::json& message);
// NotFound at a clean end of stream before a frame starts.
StatusOr<nlohmann::json> ReadFrame(int fd);

}  // namespace rock::sandbox
