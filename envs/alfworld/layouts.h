// ALFRED's 120 rooms as the generator needs them: the classes present in each room and the
// receptacle instances with the pose an agent takes to interact with them. The data is
// ALFWorld's layouts (MIT, data/LICENSE), compiled into the library so that rock-env needs no
// files at run time.
#pragma once

#include <string>
#include <vector>

namespace rock::alfworld {

enum class RoomType { kKitchen, kLivingRoom, kBedroom, kBathroom };

struct Pose {
  double x = 0, z = 0;  // metres
  int rotation = 0;     // degrees
  int horizon = 0;      // degrees
};

struct PlacedReceptacle {
  std::string thor_id;  // "Cabinet|+00.68|+00.50|-02.20"
  Pose pose;
};

struct FloorPlan {
  int number = 0;  // FloorPlan<number>
  RoomType room = RoomType::kKitchen;
  std::vector<std::string> classes;  // every class present ("Apple", "Cabinet", ...)
  std::vector<PlacedReceptacle> receptacles;
};

// All floor plans, ordered by number; parsed on first use (thread-safe).
const std::vector<FloorPlan>& FloorPlans();

}  // namespace rock::alfworld
