#include "envs/alfworld/layouts.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>

namespace rock::alfworld {
namespace {

struct EmbeddedPlan {
  int number;
  std::string_view objects_json;
  std::string_view receptacles_json;
};

constexpr EmbeddedPlan kEmbedded[] = {
#include "floor_plans.inc"
};

RoomType RoomOf(int number) {
  if (number < 200) return RoomType::kKitchen;
  if (number < 300) return RoomType::kLivingRoom;
  if (number < 400) return RoomType::kBedroom;
  return RoomType::kBathroom;
}

// The embedded files are ours and checked by the tests, so a parse error is a build defect;
// nlohmann's non-throwing parse turns one into an empty room rather than an exception.
FloorPlan Parse(const EmbeddedPlan& e) {
  FloorPlan plan;
  plan.number = e.number;
  plan.room = RoomOf(e.number);
  nlohmann::json classes = nlohmann::json::parse(e.objects_json, nullptr, false);
  if (classes.is_array()) {
    for (const auto& c : classes) {
      if (c.is_string()) plan.classes.push_back(c.get<std::string>());
    }
  }
  nlohmann::json placed = nlohmann::json::parse(e.receptacles_json, nullptr, false);
  if (placed.is_object()) {
    for (const auto& [id, pose] : placed.items()) {
      if (!pose.is_array() || pose.size() != 4) continue;
      bool numeric = std::all_of(pose.begin(), pose.end(),
                                 [](const nlohmann::json& v) { return v.is_number(); });
      if (!numeric) continue;
      plan.receptacles.push_back(
          {id,
           {pose[0].get<double>(), pose[1].get<double>(), pose[2].get<int>(), pose[3].get<int>()}});
    }
  }
  return plan;
}

}  // namespace

const std::vector<FloorPlan>& FloorPlans() {
  static const std::vector<FloorPlan> plans = [] {
    std::vector<FloorPlan> out;
    for (const EmbeddedPlan& e : kEmbedded) out.push_back(Parse(e));
    std::sort(out.begin(), out.end(),
              [](const FloorPlan& a, const FloorPlan& b) { return a.number < b.number; });
    return out;
  }();
  return plans;
}

}  // namespace rock::alfworld
