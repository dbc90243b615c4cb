#include "sandbox/frame.h"

#include <unistd.h>

#include <cerrno>

namespace rock::sandbox {
namespace {

uint32_t DecodeLength(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

StatusOr<nlohmann::json> ParseBody(std::string_view body) {
  nlohmann::json message = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) return Corruption("frame is not valid JSON");
  if (!message.is_object()) return Corruption("frame is not a JSON object");
  return message;
}

Status LengthError(uint32_t length) {
  return Corruption("frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                    std::to_string(kMaxFrameBytes));
}

// Reads exactly `size` bytes; returns the count read before EOF (short only at EOF).
StatusOr<std::size_t> ReadFull(int fd, char* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = read(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read(control fd " + std::to_string(fd) + ")", errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

}  // namespace

std::string EncodeFrame(const nlohmann::json& message) {
  const std::string body = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const auto length = static_cast<uint32_t>(body.size());
  std::string frame;
  frame.reserve(4 + body.size());
  for (int shift : {24, 16, 8, 0}) frame.push_back(static_cast<char>((length >> shift) & 0xff));
  frame += body;
  return frame;
}

StatusOr<std::optional<nlohmann::json>> FrameDecoder::Next() {
  if (buffered() < 4) return std::optional<nlohmann::json>();
  const uint32_t length = DecodeLength(buffer_.data() + offset_);
  if (length > kMaxFrameBytes) return LengthError(length);
  if (buffered() < 4 + std::size_t{length}) return std::optional<nlohmann::json>();
  auto message = ParseBody(std::string_view(buffer_).substr(offset_ + 4, length));
  if (!message.ok()) return message.status();
  offset_ += 4 + length;
  // Compact once the consumed prefix dominates, so a long stream stays O(bytes).
  if (offset_ > 4096 && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return std::optional<nlohmann::json>(std::move(message).value());
}

Status WriteFrame(int fd, const nlohmann::json& message) {
  const std::string frame = EncodeFrame(message);
  std::size_t done = 0;
  while (done < frame.size()) {
    const ssize_t n = write(fd, frame.data() + done, frame.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("write(control fd " + std::to_string(fd) + ")", errno);
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

StatusOr<nlohmann::json> ReadFrame(int fd) {
  char header[4];
  auto got = ReadFull(fd, header, sizeof(header));
  if (!got.ok()) return got.status();
  if (*got == 0) return NotFound("control socket closed");
  if (*got < sizeof(header)) return Corruption("control socket closed inside a frame header");
  const uint32_t length = DecodeLength(header);
  if (length > kMaxFrameBytes) return LengthError(length);
  std::string body(length, '\0');
  got = ReadFull(fd, body.data(), length);
  if (!got.ok()) return got.status();
  if (*got < length) return Corruption("control socket closed inside a frame body");
  return ParseBody(body);
}

}  // namespace rock::sandbox
