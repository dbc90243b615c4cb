#include "sandbox/frame.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/unique_fd.h"

namespace rock::sandbox {
namespace {

std::string Header(uint32_t length) {
  return {static_cast<char>(length >> 24), static_cast<char>((length >> 16) & 0xff),
          static_cast<char>((length >> 8) & 0xff), static_cast<char>(length & 0xff)};
}

TEST(FrameDecoder, DecodesFramesSplitAtEveryByte) {
  const std::string stream = EncodeFrame({{"type", "ping"}, {"seq", 1}}) + EncodeFrame({{"type", "pong"}});
  FrameDecoder decoder;
  std::vector<nlohmann::json> got;
  for (char c : stream) {
    decoder.Append(std::string_view(&c, 1));
    auto next = decoder.Next();
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    if (next->has_value()) got.push_back(**next);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["seq"], 1);
  EXPECT_EQ(got[1]["type"], "pong");
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoder, OversizedLengthIsCorruptionBeforeTheBodyArrives) {
  FrameDecoder decoder;
  decoder.Append(Header(kMaxFrameBytes + 1));
  auto next = decoder.Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), Code::kCorruption);
}

TEST(FrameDecoder, NonJsonAndNonObjectBodiesAreCorruption) {
  for (const std::string body : {"{oops", "[1,2]", "42", "\xff\xfe"}) {
    FrameDecoder decoder;
    decoder.Append(Header(static_cast<uint32_t>(body.size())) + body);
    auto next = decoder.Next();
    ASSERT_FALSE(next.ok()) << body;
    EXPECT_EQ(next.status().code(), Code::kCorruption);
  }
}

TEST(FrameDecoder, InvalidUtf8InStringsIsReplacedOnEncode) {
  FrameDecoder decoder;
  decoder.Append(EncodeFrame({{"stdout", std::string("ok\xff\xfe")}}));
  auto next = decoder.Next();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((**next)["stdout"].get<std::string>().substr(0, 2), "ok");
}

TEST(FrameIo, RoundTripsOverASocketAndReportsCleanAndTornEnds) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd a(sv[0]);
  UniqueFd b(sv[1]);
  const nlohmann::json big = {{"data", std::string(1 << 20, 'x')}};
  std::thread writer([&] { ASSERT_TRUE(WriteFrame(a.get(), big).ok()); });
  auto read = ReadFrame(b.get());
  writer.join();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ((*read)["data"].get<std::string>().size(), 1u << 20);

  const std::string torn = Header(100) + "{\"a\":";
  ASSERT_EQ(write(a.get(), torn.data(), torn.size()), static_cast<ssize_t>(torn.size()));
  a.Reset();
  auto broken = ReadFrame(b.get());
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), Code::kCorruption);
  auto end = ReadFrame(b.get());
  EXPECT_EQ(end.status().code(), Code::kNotFound) << "clean end of stream";
}

}  // namespace
}  // namespace rock::sandbox
