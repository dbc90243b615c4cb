// libFuzzer target: the control-frame decoder (sandbox/frame.h) that reads what a sandbox's
// worker sends rockd, a peer rockd must not trust. The first byte seeds the sizes of the chunks
// the rest arrives in, as a socket splits a stream. Beyond "no crash", it checks what the decoder
// promises: the frames and the final error do not depend on how the stream was split, every
// frame is an object that survives EncodeFrame, a length over the limit is a Corruption error
// once its header is in, and a failed Next consumes nothing.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sandbox/frame.h"
#include "tests/fuzz/require.h"

namespace rock::sandbox {
namespace {

using fuzz::Require;

uint32_t LengthAt(std::string_view stream, std::size_t offset) {
  uint32_t length = 0;
  for (std::size_t i = 0; i < 4; ++i) length = (length << 8) | static_cast<unsigned char>(stream[offset + i]);
  return length;
}

struct Decoded {
  std::vector<nlohmann::json> frames;
  std::optional<Status> error;  // the decoder's first failure; none when it only wants more
};

// Drains `decoder` after each chunk until it wants more bytes or fails; `consumed` tracks the
// stream offset of the next frame, to check the length limit against the header there.
bool Drain(FrameDecoder& decoder, std::string_view stream, std::size_t appended, std::size_t& consumed,
           Decoded& out) {
  for (;;) {
    const std::size_t before = decoder.buffered();
    Require(before == appended - consumed);
    auto next = decoder.Next();
    if (!next.ok()) {
      Require(next.status().code() == Code::kCorruption && decoder.buffered() == before);
      // A failed frame stays failed: the decoder never resynchronises on its own.
      auto again = decoder.Next();
      Require(!again.ok() && again.status().message() == next.status().message());
      out.error = next.status();
      return false;
    }
    if (!next->has_value()) {
      Require(before < 4 || (LengthAt(stream, consumed) <= kMaxFrameBytes &&
                             before < 4 + std::size_t{LengthAt(stream, consumed)}));
      return true;
    }
    const uint32_t length = LengthAt(stream, consumed);
    Require(length <= kMaxFrameBytes);
    const nlohmann::json& frame = **next;
    Require(frame.is_object());
    FrameDecoder echo;
    echo.Append(EncodeFrame(frame));
    auto echoed = echo.Next();
    Require(echoed.ok() && echoed->has_value() && **echoed == frame && echo.buffered() == 0);
    consumed += 4 + std::size_t{length};
    out.frames.push_back(std::move(**next));
  }
}

Decoded DecodeInChunks(std::string_view stream, uint32_t seed) {
  FrameDecoder decoder;
  Decoded out;
  std::size_t appended = 0, consumed = 0;
  while (appended < stream.size()) {
    seed = seed * 1103515245u + 12345u;  // a small LCG: chunk sizes from 1 to 64 bytes
    const std::size_t chunk = std::min<std::size_t>(1 + (seed >> 16) % 64, stream.size() - appended);
    decoder.Append(stream.substr(appended, chunk));
    appended += chunk;
    if (!Drain(decoder, stream, appended, consumed, out)) break;
  }
  return out;
}

}  // namespace
}  // namespace rock::sandbox

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rock::sandbox;
  if (size == 0) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const Decoded chunked = DecodeInChunks(stream, data[0]);
  // One chunk of everything: the whole stream in a single Append.
  FrameDecoder whole;
  whole.Append(stream);
  Decoded at_once;
  std::size_t consumed = 0;
  Drain(whole, stream, stream.size(), consumed, at_once);
  Require(chunked.frames == at_once.frames);
  Require(chunked.error.has_value() == at_once.error.has_value());
  if (chunked.error) Require(chunked.error->message() == at_once.error->message());
  return 0;
}
