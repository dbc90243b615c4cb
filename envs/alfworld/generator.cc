#include "envs/alfworld/generator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "envs/alfworld/alfred_classes.h"
#include "envs/alfworld/layouts.h"
#include "envs/alfworld/names.h"
#include "envs/alfworld/rng.h"
#include "envs/alfworld/world.h"

namespace rock::alfworld {
namespace {

constexpr int kUnseenPlans[] = {10, 219, 308, 424};
constexpr std::string_view kAgent = "agent1";
// Where a lamp stands when a room has one (lamps are not pickupable, so they never move).
constexpr std::string_view kLampHolders[] = {"Desk",        "SideTable", "Dresser",   "DiningTable",
                                             "CoffeeTable", "Shelf",     "CounterTop"};

// The rooms ALFRED deems fit for each task type (GOALS_VALID in constants.py).
bool RoomFits(TaskType type, RoomType room) {
  switch (type) {
    case TaskType::kPickAndPlaceSimple:
    case TaskType::kPickTwoObjAndPlace:
      return true;
    case TaskType::kLookAtObjInLight:
      return room == RoomType::kLivingRoom || room == RoomType::kBedroom;
    case TaskType::kPickCleanThenPlace:
      return room == RoomType::kKitchen || room == RoomType::kBathroom;
    case TaskType::kPickHeatThenPlace:
    case TaskType::kPickCoolThenPlace:
      return room == RoomType::kKitchen;
  }
  return false;
}

// The appliance a task needs in the room, and which may not be the final receptacle.
std::string_view ApplianceOf(TaskType type) {
  switch (type) {
    case TaskType::kPickCleanThenPlace:
      return "SinkBasin";
    case TaskType::kPickHeatThenPlace:
      return "Microwave";
    case TaskType::kPickCoolThenPlace:
      return "Fridge";
    default:
      return "";
  }
}

uint16_t TraitNeeded(TaskType type) {
  switch (type) {
    case TaskType::kPickCleanThenPlace:
      return kCleanable;
    case TaskType::kPickHeatThenPlace:
      return kHeatable;
    case TaskType::kPickCoolThenPlace:
      return kCoolable;
    default:
      return kPickupable;
  }
}

struct RoomReceptacle {
  std::string cls;  // receptacle class ("SinkBasin")
  std::string id;   // mangled PDDL id
  std::string loc;  // mangled location id
};

struct RoomObjectClass {
  std::string cls;
  uint16_t traits = 0;
  std::vector<size_t> homes;  // receptacles an object of the class may start in
};

// Everything about a room that does not depend on the game drawn in it, computed once.
struct Room {
  int number = 0;
  RoomType type = RoomType::kKitchen;
  std::vector<RoomReceptacle> receptacles;
  std::vector<RoomObjectClass> objects;  // pickupable classes and lamps with a home, sorted
  std::set<std::string> used_locations;
  std::vector<std::pair<std::string, std::string>> can_contain;  // (rtype, otype) facts
  std::vector<TaskSpec> options[kAllTaskTypes.size()];           // per TaskType
};

std::string Coord(double v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%+06.2f", v);
  return buf;
}

std::string LocationId(const Pose& p) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "loc|%d|%d|%d|%d", static_cast<int>(std::lround(p.x / 0.25)),
                static_cast<int>(std::lround(p.z / 0.25)), p.rotation / 90, p.horizon);
  return MangleThorId(buf);
}

Pose RandomPose(Rng& rng) {
  return {rng.Between(-12, 12) * 0.25, rng.Between(-12, 12) * 0.25, rng.Between(0, 3) * 90,
          rng.Between(0, 1) * 30};
}

std::string RandomThorId(std::string_view cls, Rng& rng) {
  return std::string(cls) + "|" + Coord(rng.Between(-300, 300) / 100.0) + "|" +
         Coord(rng.Between(0, 200) / 100.0) + "|" + Coord(rng.Between(-300, 300) / 100.0);
}

// Receptacles of `room` an object of `obj`'s class may start in for this task: the task's
// objects never start where the goal wants them.
std::vector<size_t> StartReceptacles(const Room& room, const TaskSpec& spec,
                                     const RoomObjectClass& obj) {
  std::vector<size_t> out;
  for (size_t home : obj.homes) {
    if (obj.cls == spec.object && room.receptacles[home].cls == spec.receptacle) continue;
    out.push_back(home);
  }
  return out;
}

// Every task of `type` the room can host.
std::vector<TaskSpec> TaskOptions(const Room& room, const std::set<std::string>& recep_classes,
                                  TaskType type) {
  std::vector<TaskSpec> options;
  std::string_view appliance = ApplianceOf(type);
  if (!appliance.empty() && !recep_classes.count(std::string(appliance))) return options;
  for (const RoomObjectClass& obj : room.objects) {
    if (!IsPickupableClass(obj.cls) || !(obj.traits & TraitNeeded(type))) continue;
    if (type == TaskType::kLookAtObjInLight) {
      for (const RoomObjectClass& lamp : room.objects) {
        if (lamp.traits & kToggleable) options.push_back({type, obj.cls, "", lamp.cls});
      }
      continue;
    }
    for (const std::string& recep : recep_classes) {
      if (recep == appliance || !CanContainClass(recep, obj.cls)) continue;
      TaskSpec spec{type, obj.cls, recep, ""};
      if (!StartReceptacles(room, spec, obj).empty()) options.push_back(spec);
    }
  }
  return options;
}

// A room's receptacles depend on the floor plan only, so a room looks the same in every game:
// the layout's placed receptacles, plus one instance (four stove burners) of each receptacle
// class the room lists but the layout does not place.
Room BuildRoom(const FloorPlan& plan) {
  Room room;
  room.number = plan.number;
  room.type = plan.room;
  Rng rng(MixSeed(0x726f6f6d, static_cast<uint64_t>(plan.number)));
  std::set<std::string> placed, object_classes;
  for (const PlacedReceptacle& p : plan.receptacles) {
    std::string cls = p.thor_id.substr(p.thor_id.rfind('|') + 1);
    if (!IsReceptacleClass(cls)) cls = p.thor_id.substr(0, p.thor_id.find('|'));
    if (!IsReceptacleClass(cls)) continue;
    placed.insert(cls);
    room.receptacles.push_back({cls, MangleThorId(p.thor_id), LocationId(p.pose)});
  }
  for (const std::string& cls : plan.classes) {
    if (IsReceptacleClass(cls) && !placed.count(cls)) {
      int count = cls == "StoveBurner" ? 4 : 1;
      for (int i = 0; i < count; ++i) {
        std::string thor = RandomThorId(cls, rng);
        if (cls == "SinkBasin" || cls == "BathtubBasin") {
          thor = RandomThorId(cls.substr(0, cls.size() - 5), rng) + "|" + cls;
        }
        room.receptacles.push_back({cls, MangleThorId(thor), LocationId(RandomPose(rng))});
      }
      placed.insert(cls);
    } else if (IsPickupableClass(cls) || (TraitsOfClass(cls) & kToggleable)) {
      object_classes.insert(cls);
    }
  }
  std::set<std::string> recep_classes;
  for (const RoomReceptacle& r : room.receptacles) {
    room.used_locations.insert(r.loc);
    recep_classes.insert(r.cls);
  }
  for (const std::string& cls : object_classes) {
    RoomObjectClass obj{cls, TraitsOfClass(cls), {}};
    for (size_t i = 0; i < room.receptacles.size(); ++i) {
      const std::string& holder = room.receptacles[i].cls;
      bool fits = obj.traits & kToggleable
                      ? std::find(std::begin(kLampHolders), std::end(kLampHolders), holder) !=
                            std::end(kLampHolders)
                      : CanContainClass(holder, cls);
      if (fits) obj.homes.push_back(i);
    }
    if (obj.homes.empty()) continue;
    for (const std::string& r : recep_classes) {
      if (CanContainClass(r, cls)) room.can_contain.emplace_back(r + "Type", cls + "Type");
    }
    room.objects.push_back(std::move(obj));
  }
  for (TaskType type : kAllTaskTypes) {
    room.options[static_cast<size_t>(type)] = TaskOptions(room, recep_classes, type);
  }
  return room;
}

const std::vector<Room>& Rooms() {
  static const std::vector<Room> rooms = [] {
    std::vector<Room> out;
    for (const FloorPlan& plan : FloorPlans()) out.push_back(BuildRoom(plan));
    return out;
  }();
  return rooms;
}

void Add(pddl::Problem* p, std::string predicate, std::vector<std::string> args) {
  p->init.push_back({std::move(predicate), std::move(args)});
}

pddl::Problem BuildProblem(const Room& room, const TaskSpec& spec, Rng& rng) {
  pddl::Problem p;
  p.init.reserve(room.receptacles.size() * 3 + room.objects.size() * 12 + room.can_contain.size());
  p.objects.reserve(room.receptacles.size() * 2 + room.objects.size() * 4);
  p.name = "generated_FloorPlan" + std::to_string(room.number);
  p.domain = "alfred";
  p.objects.push_back({std::string(kAgent), "agent"});
  std::set<std::string> ids, locations, recep_classes;
  for (const RoomReceptacle& r : room.receptacles) {
    ids.insert(r.id);
    p.objects.push_back({r.id, "receptacle"});
    recep_classes.insert(r.cls);
    if (locations.insert(r.loc).second) p.objects.push_back({r.loc, "location"});
    Add(&p, "receptacleType", {r.id, r.cls + "Type"});
    Add(&p, "receptacleAtLocation", {r.id, r.loc});
    if (IsOpenableClass(r.cls)) Add(&p, "openable", {r.id});
  }
  std::string start;
  do {
    start = LocationId(RandomPose(rng));
  } while (room.used_locations.count(start));
  p.objects.push_back({start, "location"});
  Add(&p, "atLocation", {std::string(kAgent), start});

  for (const RoomObjectClass& obj : room.objects) {
    const std::string& cls = obj.cls;
    std::vector<size_t> homes = StartReceptacles(room, spec, obj);
    // Up to three of a class (MAX_NUM_OF_OBJ_INSTANCES); a room has one lamp of a kind, and a
    // two-object task at least two of its objects.
    int lo = 1, hi = (obj.traits & kToggleable) ? 1 : 3;
    if (cls == spec.object && spec.type == TaskType::kPickTwoObjAndPlace) lo = 2, hi = 4;
    int count = rng.Between(lo, hi);
    p.objects.push_back({cls + "Type", "otype"});
    for (int i = 0; i < count; ++i) {
      std::string id;
      do {
        id = MangleThorId(RandomThorId(cls, rng));
      } while (!ids.insert(id).second);
      const RoomReceptacle& home = room.receptacles[homes[rng.Below(homes.size())]];
      p.objects.push_back({id, "object"});
      Add(&p, "objectType", {id, cls + "Type"});
      Add(&p, "inReceptacle", {id, home.id});
      Add(&p, "objectAtLocation", {id, home.loc});
      static constexpr std::pair<ObjectTrait, std::string_view> kAtoms[] = {
          {kPickupable, "pickupable"},
          {kCleanable, "cleanable"},
          {kHeatable, "heatable"},
          {kCoolable, "coolable"},
          {kSliceable, "sliceable"},
          {kToggleable, "toggleable"},
          {kReceptacleObject, "isReceptacleObject"}};
      for (const auto& [trait, predicate] : kAtoms) {
        if (obj.traits & trait) Add(&p, std::string(predicate), {id});
      }
    }
  }
  for (const std::string& cls : recep_classes) p.objects.push_back({cls + "Type", "rtype"});
  for (const auto& [r, o] : room.can_contain) Add(&p, "canContain", {r, o});
  p.goal = GoalFormula(spec);
  return p;
}

uint64_t SplitSalt(Split split) {
  switch (split) {
    case Split::kTrain:
      return 0x747261696eull;
    case Split::kValidSeen:
      return 0x7365656eull;
    case Split::kValidUnseen:
      return 0x756e7365656eull;
  }
  return 0;
}

}  // namespace

std::string_view SplitName(Split split) {
  switch (split) {
    case Split::kTrain:
      return "train";
    case Split::kValidSeen:
      return "valid_seen";
    case Split::kValidUnseen:
      return "valid_unseen";
  }
  return "";
}

std::optional<Split> ParseSplit(std::string_view name) {
  for (Split s : {Split::kTrain, Split::kValidSeen, Split::kValidUnseen}) {
    if (SplitName(s) == name) return s;
  }
  return std::nullopt;
}

std::vector<int> SplitFloorPlans(Split split) {
  std::vector<int> out;
  for (const FloorPlan& plan : FloorPlans()) {
    bool unseen = std::find(std::begin(kUnseenPlans), std::end(kUnseenPlans), plan.number) !=
                  std::end(kUnseenPlans);
    if (unseen == (split == Split::kValidUnseen)) out.push_back(plan.number);
  }
  return out;
}

StatusOr<GeneratedGame> GenerateGame(TaskType type, Split split, uint64_t index) {
  Rng rng(MixSeed(MixSeed(SplitSalt(split), static_cast<uint64_t>(type)), index));
  std::vector<const Room*> rooms;
  std::vector<int> plans = SplitFloorPlans(split);
  for (const Room& room : Rooms()) {
    if (RoomFits(type, room.type) && std::binary_search(plans.begin(), plans.end(), room.number)) {
      rooms.push_back(&room);
    }
  }
  if (rooms.empty()) {
    return FailedPrecondition("no floor plan of split " + std::string(SplitName(split)) +
                              " fits task type " + std::string(TaskTypeName(type)));
  }
  // Start at a random room and walk on until one can host the task type.
  const size_t first = rng.Below(rooms.size());
  for (size_t k = 0; k < rooms.size(); ++k) {
    const Room& room = *rooms[(first + k) % rooms.size()];
    const std::vector<TaskSpec>& options = room.options[static_cast<size_t>(type)];
    if (options.empty()) continue;
    GeneratedGame game;
    game.spec = options[rng.Below(options.size())];
    game.task_text = TaskText(game.spec, static_cast<int>(rng.Below(kTemplatesPerTask)));
    game.floor_plan = room.number;
    game.problem = BuildProblem(room, game.spec, rng);
    game.id = "generated/" + std::string(SplitName(split)) + "/" + std::string(TaskTypeName(type)) +
              "/" + std::to_string(index);
    return game;
  }
  return FailedPrecondition("no floor plan of split " + std::string(SplitName(split)) +
                            " can host a " + std::string(TaskTypeName(type)) + " task");
}

}  // namespace rock::alfworld
