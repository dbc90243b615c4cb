#include <gtest/gtest.h>

#include <random>
#include <string>

#include "trainer-client/policy/config.h"
#include "trainer-client/policy/tokenizer.h"

namespace rock::policy {
namespace {

TEST(Tokenizer, RoundTripsArbitraryBytes) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 50; trial++) {
    std::string bytes(static_cast<size_t>(rng() % 300), '\0');
    for (char& ch : bytes) ch = static_cast<char>(rng() & 0xff);
    const std::vector<int> tokens = Tokenizer::Encode(bytes, /*bos=*/true);
    ASSERT_EQ(tokens.size(), bytes.size() + 1);
    EXPECT_EQ(tokens[0], Tokenizer::kBos);
    for (size_t i = 1; i < tokens.size(); i++) {
      EXPECT_GE(tokens[i], 0);
      EXPECT_LT(tokens[i], 256);
    }
    EXPECT_EQ(Tokenizer::Decode(tokens), bytes);
  }
}

TEST(Tokenizer, HighBytesAndNulAreTokensAndSpecialsDecodeToNothing) {
  const std::string text("\0\x80\xff" "a", 4);
  EXPECT_EQ(Tokenizer::Encode(text), (std::vector<int>{0, 128, 255, 'a'}));
  const std::vector<int> with_specials = {Tokenizer::kBos, 'h', Tokenizer::kSep, 'i', Tokenizer::kEos,
                                          Tokenizer::kPad};
  EXPECT_EQ(Tokenizer::Decode(with_specials), "hi");
  EXPECT_TRUE(Tokenizer::IsSpecial(Tokenizer::kPad));
  EXPECT_FALSE(Tokenizer::IsSpecial(255));
}

TEST(ModelConfig, DefaultIsValidAndFitsTheTokenizer) {
  ModelConfig c;
  EXPECT_TRUE(Validate(c).ok());
  EXPECT_EQ(c.vocab_size, Tokenizer::kVocabSize);
}

TEST(ModelConfig, MalformedConfigIsRefusedNamingTheField) {
  struct Case {
    void (*mutate)(ModelConfig&);
    const char* field;
  };
  const Case cases[] = {
      {[](ModelConfig& c) { c.dim = 0; }, "dim"},
      {[](ModelConfig& c) { c.n_layers = -1; }, "n_layers"},
      {[](ModelConfig& c) { c.n_kv_heads = 3; }, "n_kv_heads"},
      {[](ModelConfig& c) { c.n_heads = 5; }, "n_heads"},
      {[](ModelConfig& c) { c.hidden_dim = 0; }, "hidden_dim"},
      {[](ModelConfig& c) { c.vocab_size = 0; }, "vocab_size"},
      {[](ModelConfig& c) { c.max_seq = 0; }, "max_seq"},
      {[](ModelConfig& c) { c.dim = 12; c.n_heads = 4; c.n_kv_heads = 4; }, "dim / n_heads"},  // head dim 3 is odd
      {[](ModelConfig& c) { c.rope_theta = 0.5f; }, "rope_theta"},
      {[](ModelConfig& c) { c.norm_eps = 0.0f; }, "norm_eps"},
  };
  for (const Case& tc : cases) {
    ModelConfig c;
    tc.mutate(c);
    const Status s = Validate(c);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << tc.field;
    EXPECT_NE(s.message().find(tc.field), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace rock::policy
