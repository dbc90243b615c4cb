#include "sandbox/spec.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace rock::sandbox {
namespace {

Spec Valid() {
  Spec spec;
  spec.id = "sb-1";
  spec.root_dir = "/var/lib/rockd/sandboxes/sb-1/root";
  return spec;
}

TEST(Spec, RoundTripsThroughJson) {
  Spec spec = Valid();
  spec.network = Network::kLoopback;
  spec.limits.memory_bytes = 64ull << 20;
  spec.env = "alfworld";
  spec.slots = 32;
  auto back = SpecFromJson(SpecToJson(spec));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, "sb-1");
  EXPECT_EQ(back->network, Network::kLoopback);
  EXPECT_EQ(back->limits.memory_bytes, 64ull << 20);
  EXPECT_EQ(back->env, "alfworld");
  EXPECT_EQ(back->slots, 32u);
}

TEST(Spec, BadIdsAndRootsAreRefused) {
  for (const char* id : {"", "UPPER", "a/b", "..", "a b", "x-0123456789012345678901234567890123456789012345678"}) {
    Spec spec = Valid();
    spec.id = id;
    EXPECT_FALSE(ValidateSpec(spec).ok()) << id;
  }
  Spec relative = Valid();
  relative.root_dir = "root";
  EXPECT_FALSE(ValidateSpec(relative).ok());
  Spec relative_data = Valid();
  relative_data.data_dir = "data";
  EXPECT_NE(ValidateSpec(relative_data).message().find("'data_dir'"), std::string::npos);
}

TEST(Spec, RootIdentityIsRefused) {
  Spec spec = Valid();
  spec.uid = 0;
  EXPECT_NE(ValidateSpec(spec).message().find("uid"), std::string::npos);
}

TEST(Spec, LimitsOutOfRangeNameTheField) {
  Spec spec = Valid();
  spec.limits.pids = 1;
  EXPECT_NE(ValidateSpec(spec).message().find("limits.pids"), std::string::npos);
  spec = Valid();
  spec.limits.memory_bytes = 1 << 20;
  EXPECT_NE(ValidateSpec(spec).message().find("limits.memory_mb"), std::string::npos);
  for (uint32_t slots : {0u, kMaxSlots + 1}) {
    spec = Valid();
    spec.slots = slots;
    EXPECT_NE(ValidateSpec(spec).message().find("'slots'"), std::string::npos) << slots;
  }
}

TEST(Spec, MalformedJsonIsInvalidArgument) {
  auto missing = SpecFromJson({{"id", "x"}});
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  nlohmann::json wrong_type = SpecToJson(Valid());
  wrong_type["limits"]["pids"] = "many";
  EXPECT_EQ(SpecFromJson(wrong_type).status().code(), Code::kInvalidArgument);
  nlohmann::json bad_network = SpecToJson(Valid());
  bad_network["network"] = "host";
  EXPECT_EQ(SpecFromJson(bad_network).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace rock::sandbox
