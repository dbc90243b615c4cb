// Training end to end: the schedule, a toy task learnt to near-zero loss, and checkpoints that
// resume bit-exactly and refuse damaged files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/trainer-client/policy_test_util.h"
#include "trainer-client/policy/adamw.h"
#include "trainer-client/policy/checkpoint.h"
#include "trainer-client/policy/generator.h"
#include "trainer-client/policy/tokenizer.h"

namespace rock::policy {
namespace {

using testing::MakeModel;

TEST(AdamW, LearningRateWarmsUpThenFollowsTheCosineToTheFloor) {
  const AdamWConfig c{.lr = 1.0f, .min_lr = 0.1f, .warmup_steps = 10, .total_steps = 110};
  EXPECT_FLOAT_EQ(LearningRate(c, 1), 0.1f);
  EXPECT_FLOAT_EQ(LearningRate(c, 5), 0.5f);
  EXPECT_FLOAT_EQ(LearningRate(c, 10), 1.0f);
  EXPECT_NEAR(LearningRate(c, 60), 0.55f, 1e-6);  // half way: the mean of peak and floor
  EXPECT_FLOAT_EQ(LearningRate(c, 110), 0.1f);
  EXPECT_FLOAT_EQ(LearningRate(c, 1000), 0.1f);
  for (int64_t s = 11; s < 110; s++) EXPECT_LT(LearningRate(c, s + 1), LearningRate(c, s));
}

// Step 1 of Adam is lr * sign(g) (m and v are g and g^2 after bias correction), whatever the
// clipping scale; on top of it the decoupled decay subtracts lr * wd * p from matrices only.
TEST(AdamW, FirstStepIsSignedLrPlusDecoupledDecayOnMatricesOnly) {
  CpuBackend cpu;
  auto model = MakeModel(cpu, testing::TinyConfig(), 2, 0.3f);
  const std::vector<int> tokens = testing::RandomTokens(8, 20, 3);
  const std::vector<float> weights(8, 1.0f);
  ASSERT_TRUE(model->Forward(tokens, tokens, weights, 1, 8).ok());
  model->ZeroGrad();
  ASSERT_TRUE(model->Backward().ok());
  const std::vector<float> g = model->DownloadGrads();
  const std::vector<float> p0 = model->DownloadParams();
  double norm = 0.0;
  for (float x : g) norm += static_cast<double>(x) * x;
  // eps far below the smallest clipped |g|, so it does not bend the sign.
  const AdamWConfig config{.lr = 1e-2f, .warmup_steps = 0, .total_steps = 10, .eps = 1e-30f,
                           .weight_decay = 0.5f, .clip_norm = 1e-3f};
  AdamW opt(*model, config);
  EXPECT_NEAR(opt.Step(), std::sqrt(norm), 1e-3 * std::sqrt(norm));  // the norm before clipping
  const std::vector<float> p1 = model->DownloadParams();
  const float lr = LearningRate(config, 1);  // step 1 of the cosine, just under the peak
  for (const TensorInfo& t : model->tensors()) {
    const float wd = t.shape.size() == 1 ? 0.0f : 0.5f;
    for (size_t i = t.offset; i < t.offset + t.size; i++) {
      if (g[i] == 0.0f) continue;  // embedding rows of unseen tokens: no signal to check
      const float want = p0[i] - lr * ((g[i] > 0 ? 1.0f : -1.0f) + wd * p0[i]);
      ASSERT_NEAR(p1[i], want, 1e-5f) << t.name << " at " << i - t.offset;
    }
  }
}

// A copy task: BOS a b c d SEP a b c d over 6 symbols; only what follows the input is a target.
// (Copying is a constant relative offset, which RoPE attention learns in a few hundred steps;
// reversal needs absolute positions that a RoPE model must first infer, and takes far longer.)
struct Batch {
  std::vector<int> tokens, targets;
  std::vector<float> weights;
};
constexpr int kLen = 4;
constexpr int kT = 2 * kLen + 1;  // inputs: BOS, the symbols, SEP, the copy without its last symbol

Batch CopyBatch(int B, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Batch b;
  std::vector<uint8_t> mask;
  for (int i = 0; i < B; i++) {
    std::vector<int> seq = {Tokenizer::kBos};
    std::vector<int> digits;
    for (int j = 0; j < kLen; j++) digits.push_back('a' + static_cast<int>(rng() % 6));
    seq.insert(seq.end(), digits.begin(), digits.end());
    seq.push_back(Tokenizer::kSep);
    seq.insert(seq.end(), digits.begin(), digits.end());
    for (int t = 0; t < kT; t++) {
      b.tokens.push_back(seq[static_cast<size_t>(t)]);
      b.targets.push_back(seq[static_cast<size_t>(t) + 1]);
      mask.push_back(t >= kLen ? 1 : 0);  // SEP after the last symbol, then the copy
    }
  }
  b.weights = MaskedMeanWeights(mask);
  return b;
}

ModelConfig LearnerConfig() {
  ModelConfig c;
  c.dim = 16;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.hidden_dim = 32;
  c.vocab_size = Tokenizer::kFirstWord;
  c.max_seq = 16;
  return c;
}

float TrainStep(Model& model, AdamW& opt, int B, uint64_t step) {
  const Batch b = CopyBatch(B, 1000 + step);
  auto loss = model.Forward(b.tokens, b.targets, b.weights, B, kT);
  EXPECT_TRUE(loss.ok()) << loss.status().ToString();
  model.ZeroGrad();
  EXPECT_TRUE(model.Backward().ok());
  opt.Step();
  return loss.ok() ? *loss : NAN;
}

// Weights chosen after the forward (from its losses) differentiate like weights given to it.
TEST(Training, LossWeightsSetAfterTheForwardDifferentiateLikeWeightsGivenToIt) {
  CpuBackend cpu;
  const ModelConfig config = testing::TinyConfig();
  auto model = MakeModel(cpu, config, 3, 0.5f);
  const int B = 2, T = 6;
  std::vector<int> tokens(B * T), targets(B * T);
  for (int i = 0; i < B * T; i++) {
    tokens[i] = (i * 7) % config.vocab_size;
    targets[i] = (i * 5 + 3) % config.vocab_size;
  }
  const std::vector<float> late = testing::RandomVector(B * T, 9);
  ASSERT_TRUE(model->Forward(tokens, targets, late, B, T).ok());
  model->ZeroGrad();
  ASSERT_TRUE(model->Backward().ok());
  const std::vector<float> want = model->DownloadGrads();

  ASSERT_TRUE(model->Forward(tokens, targets, std::vector<float>(B * T, 0.0f), B, T).ok());
  ASSERT_TRUE(model->SetLossWeights(late).ok());
  model->ZeroGrad();
  ASSERT_TRUE(model->Backward().ok());
  EXPECT_EQ(model->DownloadGrads(), want);
  EXPECT_EQ(model->SetLossWeights(std::vector<float>(3)).code(), Code::kInvalidArgument);
}

TEST(Training, TinyModelLearnsToCopyASequence) {
  CpuBackend cpu;
  auto model = MakeModel(cpu, LearnerConfig(), 1);
  AdamW opt(*model, {.lr = 3e-2f, .min_lr = 3e-3f, .warmup_steps = 20, .total_steps = 300,
                     .weight_decay = 0.0f});
  float first = 0.0f;
  float last = 0.0f;
  for (uint64_t s = 0; s < 300; s++) {
    last = TrainStep(*model, opt, 16, s);
    if (s == 0) first = last;
  }
  EXPECT_GT(first, 1.5f);  // ln 6 = 1.8 for a guess among the symbols; more at init
  EXPECT_LT(last, 0.05f);
  // And the policy now answers: greedy decoding after SEP copies an input.
  auto gen = Generator::Create(*model, 4, 0);
  ASSERT_TRUE(gen.ok());
  Tokenizer bytes;
  std::vector<int> prompt = bytes.Encode("fbca", true);
  prompt.push_back(Tokenizer::kSep);
  ASSERT_TRUE((*gen)->Submit(prompt, {.temperature = 0.0f, .max_new_tokens = kLen}).ok());
  auto done = (*gen)->RunToCompletion();
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(bytes.Decode((*done)[0].tokens), "fbca");
}

class Checkpoints : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("policy_ckpt_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const char* name) const { return (dir_ / name).string(); }

  static ModelConfig Small() {
    ModelConfig c = LearnerConfig();
    c.tied_embeddings = false;
    c.vocab_size = Tokenizer::kFirstWord + 8;  // room for a few words
    return c;
  }
  // A tokenizer of Small()'s vocabulary that has learned the words of `text`.
  static std::unique_ptr<Tokenizer> WordsOf(const std::string& text) {
    auto tokenizer = std::make_unique<Tokenizer>(Small().vocab_size);
    tokenizer->Encode(text);
    return tokenizer;
  }
  static AdamWConfig Opt() { return {.lr = 1e-2f, .warmup_steps = 3, .total_steps = 20}; }

  std::filesystem::path dir_;
};

TEST_F(Checkpoints, ResumedTrainingIsBitIdenticalToUninterrupted) {
  CpuBackend cpu;
  auto straight = MakeModel(cpu, Small(), 3);
  AdamW straight_opt(*straight, Opt());
  for (uint64_t s = 0; s < 12; s++) TrainStep(*straight, straight_opt, 4, s);

  auto first = MakeModel(cpu, Small(), 3);
  AdamW first_opt(*first, Opt());
  for (uint64_t s = 0; s < 6; s++) TrainStep(*first, first_opt, 4, s);
  const auto words = WordsOf("go to fridge 1");
  ASSERT_TRUE(SaveCheckpoint(Path("a.ckpt"), Capture(*first, first_opt, *words)).ok());

  auto loaded = LoadCheckpoint(Path("a.ckpt"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->step, 6);
  auto resumed = MakeModel(cpu, loaded->config, 99);  // different init, overwritten by Restore
  AdamW resumed_opt(*resumed, Opt());
  Tokenizer resumed_words(loaded->config.vocab_size);
  ASSERT_TRUE(Restore(*loaded, *resumed, resumed_opt, resumed_words).ok());
  EXPECT_EQ(resumed_words.Words(), words->Words());
  EXPECT_EQ(resumed_words.Encode("go to fridge 1"), words->Encode("go to fridge 1"));
  for (uint64_t s = 6; s < 12; s++) TrainStep(*resumed, resumed_opt, 4, s);

  const std::vector<float> a = straight->DownloadParams();
  const std::vector<float> b = resumed->DownloadParams();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "parameters differ";
  EXPECT_EQ(std::memcmp(straight_opt.DownloadM().data(), resumed_opt.DownloadM().data(), a.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(straight_opt.DownloadV().data(), resumed_opt.DownloadV().data(), a.size() * sizeof(float)), 0);
  EXPECT_EQ(resumed_opt.step(), 12);
  // Saving the restored state gives the same bytes as the file it came from.
  EXPECT_EQ(Serialize(*loaded), Serialize(Capture(*first, first_opt, *words)));
}

TEST_F(Checkpoints, TruncatedBadMagicAndFlippedBytesAreRefused) {
  CpuBackend cpu;
  auto model = MakeModel(cpu, Small(), 4);
  AdamW opt(*model, Opt());
  const std::string bytes = Serialize(Capture(*model, opt, Tokenizer(Small().vocab_size)));  // no words
  constexpr size_t kWordCount = 4;  // then the checksum's 8 bytes

  for (size_t cut : {size_t{3}, size_t{40}, size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    auto r = Parse(std::string_view(bytes).substr(0, cut));
    ASSERT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_EQ(r.status().code(), Code::kCorruption);
    EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
  }
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_NE(Parse(bad).status().message().find("bad magic"), std::string::npos);
  bad = bytes;
  bad[bytes.size() - 8 - kWordCount - 1] ^= 0x10;  // the last byte of the last tensor's data
  EXPECT_NE(Parse(bad).status().message().find("checksum"), std::string::npos) << Parse(bad).status().message();
  bad = bytes;
  bad[bytes.size() / 2] ^= 0x10;  // wherever it lands, a header, a name, a shape or data
  EXPECT_EQ(Parse(bad).status().code(), Code::kCorruption);
  bad = bytes;
  bad[12] = 0;  // dim 0: the config is refused by name
  EXPECT_NE(Parse(bad).status().message().find("dim"), std::string::npos);
  bad = bytes;
  const int32_t layers = 1 << 30;  // a header promising more than any file holds, not an allocation
  std::memcpy(bad.data() + 16, &layers, sizeof(layers));
  EXPECT_NE(Parse(bad).status().message().find("truncated: the config's tensors need"), std::string::npos)
      << Parse(bad).status().message();

  // Through the file API the message names the file.
  {
    std::ofstream out(Path("short.ckpt"), std::ios::binary);
    out.write(bytes.data(), 200);
  }
  auto r = LoadCheckpoint(Path("short.ckpt"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("short.ckpt"), std::string::npos);
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos);
  EXPECT_EQ(LoadCheckpoint(Path("missing.ckpt")).status().code(), Code::kIoError);
}

TEST_F(Checkpoints, MatchGainsRoundTripAndOtherMatchSlotsAreRefused) {
  CpuBackend cpu;
  ModelConfig config = Small();
  config.match_slots = 3;
  auto model = MakeModel(cpu, config, 7, 0.3f);  // gains away from their initial 0
  AdamW opt(*model, Opt());
  const std::string bytes = Serialize(Capture(*model, opt, Tokenizer(config.vocab_size)));
  auto parsed = Parse(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->config.match_slots, 3);
  auto resumed = MakeModel(cpu, config, 8);
  AdamW resumed_opt(*resumed, Opt());
  Tokenizer tokenizer(config.vocab_size);
  ASSERT_TRUE(Restore(*parsed, *resumed, resumed_opt, tokenizer).ok());
  EXPECT_EQ(resumed->MatchGains(), model->MatchGains());
  EXPECT_NE(model->MatchGains(), std::vector<float>(3, 0.0f));

  auto without = MakeModel(cpu, Small(), 8);
  AdamW without_opt(*without, Opt());
  const Status refused = Restore(*parsed, *without, without_opt, tokenizer);
  EXPECT_NE(refused.message().find("match_slots 3 in the checkpoint, 0 in the model"), std::string::npos)
      << refused.message();
  std::string bad = bytes;
  const int32_t negative = -1;
  std::memcpy(bad.data() + 52, &negative, sizeof(negative));
  EXPECT_NE(Parse(bad).status().message().find("match_slots"), std::string::npos) << Parse(bad).status().message();
}

TEST_F(Checkpoints, RestoreRefusesADifferentConfig) {
  CpuBackend cpu;
  auto model = MakeModel(cpu, Small(), 5);
  AdamW opt(*model, Opt());
  Tokenizer tokenizer(Small().vocab_size);
  const Checkpoint ck = Capture(*model, opt, tokenizer);
  ModelConfig other = Small();
  other.tied_embeddings = true;
  auto different = MakeModel(cpu, other, 5);
  AdamW different_opt(*different, Opt());
  const Status refused = Restore(ck, *different, different_opt, tokenizer);
  EXPECT_EQ(refused.code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.message().find("tied_embeddings 0 in the checkpoint, 1 in the model"), std::string::npos)
      << refused.message();
}

uint64_t Fnv1a(std::string_view bytes) {  // the checksum, as docs/policy.md specifies it
  uint64_t h = 0xcbf29ce484222325ull;
  for (char ch : bytes) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ull;
  return h;
}
std::string WithChecksum(std::string body) {
  const uint64_t sum = Fnv1a(body);
  body.append(reinterpret_cast<const char*>(&sum), sizeof(sum));
  return body;
}

TEST_F(Checkpoints, MalformedWordsAreRefusedAndVersion1And2FilesLoad) {
  CpuBackend cpu;
  auto model = MakeModel(cpu, Small(), 6);
  AdamW opt(*model, Opt());
  Checkpoint ck = Capture(*model, opt, *WordsOf("take apple"));
  ASSERT_EQ(ck.words, (std::vector<std::string>{"take", " apple"}));
  const std::string good = Serialize(ck);
  const size_t words_at = good.size() - 8 - (4 + 4 + 4 + 4 + 6);  // count, then two records

  // A duplicate word, or more words than the vocabulary has room for, written with a valid checksum.
  ck.words = {" apple", " apple"};
  auto duplicate = Parse(Serialize(ck));
  EXPECT_EQ(duplicate.status().code(), Code::kCorruption);
  EXPECT_NE(duplicate.status().message().find("duplicate"), std::string::npos) << duplicate.status().message();
  std::string many = good.substr(0, words_at);
  const uint32_t too_many = 9;
  many.append(reinterpret_cast<const char*>(&too_many), 4);
  auto crowded = Parse(WithChecksum(many));
  EXPECT_NE(crowded.status().message().find("room for 8"), std::string::npos) << crowded.status().message();
  // A word length past the end of the file is a truncation, not an allocation.
  std::string longer = good.substr(0, words_at + 4);
  const uint32_t huge = 1u << 31;
  longer.append(reinterpret_cast<const char*>(&huge), 4);
  EXPECT_NE(Parse(WithChecksum(longer)).status().message().find("truncated: word 0"), std::string::npos);

  // Version 2 had no match_slots (at offset 52; 0 in this config): it loads, words and all.
  constexpr size_t kMatchSlotsAt = 52;
  std::string v2 = good.substr(0, good.size() - 8);
  v2.erase(kMatchSlotsAt, 4);
  const uint32_t two = 2;
  std::memcpy(v2.data() + 8, &two, 4);
  auto older = Parse(WithChecksum(v2));
  ASSERT_TRUE(older.ok()) << older.status().ToString();
  EXPECT_EQ(older->words, (std::vector<std::string>{"take", " apple"}));
  EXPECT_EQ(older->config.match_slots, 0);

  // Version 1 had no word section either: it loads, and restores an empty vocabulary.
  std::string v1 = good.substr(0, words_at);
  v1.erase(kMatchSlotsAt, 4);
  const uint32_t one = 1;
  std::memcpy(v1.data() + 8, &one, 4);
  auto old = Parse(WithChecksum(v1));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_TRUE(old->words.empty());
  Tokenizer tokenizer(Small().vocab_size);
  tokenizer.Encode("stale words");
  ASSERT_TRUE(Restore(*old, *model, opt, tokenizer).ok());
  EXPECT_TRUE(tokenizer.Words().empty());
}

}  // namespace
}  // namespace rock::policy
