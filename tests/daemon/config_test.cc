#include "daemon/config.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace rock {
namespace {

TEST(Config, EmbeddedDefaultsLoadAndValidate) {
  auto config = LoadConfig("", "");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->http.listen.host, "127.0.0.1");
  EXPECT_EQ(config->http.listen.port, 8080);
  EXPECT_EQ(config->data_dir, "/var/lib/rockd");
  EXPECT_TRUE(config->auth_token.empty());
}

TEST(Config, OverlayReplacesOnlyTheKeysItNames) {
  auto config = LoadConfig(R"({"http":{"threads":4,"listen":"[::1]:0"},"log_level":"debug"})", "test.json");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->http.threads, 4u);
  EXPECT_EQ(config->http.listen.host, "::1");
  EXPECT_EQ(config->http.listen.port, 0);
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->http.max_body_bytes, 8u << 20);
}

TEST(Config, UnknownKeyIsRefusedWithItsFullName) {
  auto config = LoadConfig(R"({"http":{"thread":4}})", "rockd.json");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kInvalidArgument);
  EXPECT_NE(config.status().message().find("rockd.json"), std::string::npos);
  EXPECT_NE(config.status().message().find("unknown key 'http.thread'"), std::string::npos);
  EXPECT_NE(config.status().message().find("threads"), std::string::npos) << "lists the known keys";
}

TEST(Config, WrongTypesAreRefusedNamingTheKey) {
  for (const char* overlay : {R"({"http":{"threads":"4"}})", R"({"http":{"threads":-1}})",
                              R"({"http":{"threads":1.5}})", R"({"http":3})", R"({"log_level":7})"}) {
    auto config = LoadConfig(overlay, "x.json");
    ASSERT_FALSE(config.ok()) << overlay;
    const std::string& message = config.status().message();
    EXPECT_TRUE(message.find("'http") != std::string::npos || message.find("'log_level'") != std::string::npos)
        << message;
  }
}

TEST(Config, OutOfRangeValuesAreRefused) {
  auto zero_threads = LoadConfig(R"({"http":{"threads":0}})", "x.json");
  ASSERT_FALSE(zero_threads.ok());
  EXPECT_NE(zero_threads.status().message().find("'http.threads' must be between 1 and 64"), std::string::npos);
  auto huge = LoadConfig(R"({"http":{"idle_timeout_ms":99999999999}})", "x.json");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("http.idle_timeout_ms"), std::string::npos);
  auto level = LoadConfig(R"({"log_level":"loud"})", "x.json");
  ASSERT_FALSE(level.ok());
  EXPECT_NE(level.status().message().find("'log_level'"), std::string::npos);
  auto listen = LoadConfig(R"({"http":{"listen":"localhost"}})", "x.json");
  ASSERT_FALSE(listen.ok());
  EXPECT_NE(listen.status().message().find("'http.listen'"), std::string::npos);
  auto relative_data = LoadConfig(R"({"alfworld":{"data_dir":"alfworld"}})", "x.json");
  ASSERT_FALSE(relative_data.ok());
  EXPECT_NE(relative_data.status().message().find("'alfworld.data_dir'"), std::string::npos);
}

TEST(Config, MalformedJsonIsRefusedWithTheSourceName) {
  for (const char* overlay : {"{", "[1,2]", "null", "{\"http\":{}", "\xff\xfe"}) {
    auto config = LoadConfig(overlay, "broken.json");
    ASSERT_FALSE(config.ok()) << overlay;
    EXPECT_NE(config.status().message().find("broken.json"), std::string::npos) << config.status().message();
  }
}

// Found by config_fuzzer: nlohmann reports such a number by out_of_range, not parse_error, and
// rockd died of the uncaught exception.
TEST(Config, NumberTooLargeForADoubleIsRefusedNotThrown) {
  auto config = LoadConfig(R"({"http":{"threads":6e5534}})", "huge.json");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kInvalidArgument);
  EXPECT_NE(config.status().message().find("huge.json: invalid JSON"), std::string::npos) << config.status().message();
  EXPECT_NE(config.status().message().find("number overflow"), std::string::npos) << config.status().message();
}

TEST(Config, PrintedConfigLoadsBackToTheSameValuesAndHidesTheToken) {
  auto config = LoadConfig(R"({"http":{"threads":3,"listen":"[::1]:9000"},"auth":{"token":"s3cret"}})", "x");
  ASSERT_TRUE(config.ok());
  const nlohmann::json printed = ConfigToJson(*config);
  EXPECT_EQ(printed["auth"]["token"], "<redacted>");
  auto reloaded = LoadConfig(printed.dump(), "printed");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
  EXPECT_EQ(reloaded->http.threads, 3u);
  EXPECT_EQ(reloaded->http.listen.host, "::1");
  EXPECT_EQ(reloaded->http.listen.port, 9000);
}

TEST(ListenAddress, ParsesHostPortForms) {
  auto v4 = ParseListenAddress("0.0.0.0:80");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 80);
  auto v6 = ParseListenAddress("[::]:65535");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::");
  for (const char* bad : {"", ":80", "host:", "host:65536", "host:8x", "::1:80", "[::1]", "[::1]80", "h:-1"}) {
    EXPECT_FALSE(ParseListenAddress(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace rock
