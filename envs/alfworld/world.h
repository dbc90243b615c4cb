// The world model of one ALFWorld game: what a PDDL problem's ground :init says, interned into
// flat tables (World, immutable, shared by every episode of the game) plus the facts that
// actions change (State, one per episode, reset by copying). Everything is indexed by small
// integers; entities of each kind are numbered in sorted-id order, which is the order ALFWorld
// lists them in, so walking an index range renders a list in the right order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "envs/alfworld/pddl/pddl.h"

namespace rock::alfworld {

inline constexpr int32_t kNone = -1;

// Static object properties (the unary predicates of alfred.pddl that no action changes).
enum ObjectTrait : uint16_t {
  kPickupable = 1 << 0,
  kCleanable = 1 << 1,
  kHeatable = 1 << 2,
  kCoolable = 1 << 3,
  kSliceable = 1 << 4,
  kToggleable = 1 << 5,
  kReceptacleObject = 1 << 6,
  kMoveable = 1 << 7,
};

// Object conditions that actions change.
enum ObjectCondition : uint8_t {
  kClean = 1 << 0,
  kHot = 1 << 1,
  kCool = 1 << 2,
  kSliced = 1 << 3,
  kToggled = 1 << 4,
  kOn = 1 << 5,
};

struct Receptacle {
  std::string id;    // lowercased PDDL id
  std::string name;  // "cabinet 3"
  int32_t type = kNone;
  int32_t location = kNone;  // receptacleAtLocation; kNone when the problem gives none
  bool openable = false;
};

struct Object {
  std::string id;
  std::string name;
  int32_t type = kNone;
  uint16_t traits = 0;
  std::vector<int32_t> inside;  // objects in this receptacle object (inReceptacleObject)
};

struct Location {
  std::string id;
  std::string name;                  // "loc 12" (what ALFWorld <= 0.3 says on arrival)
  std::vector<int32_t> receptacles;  // the receptacles standing there, in id order
};

// The facts actions change. Vectors are sized by the World and never reallocated while playing.
struct State {
  int32_t agent_location = kNone;
  int32_t held = kNone;                  // holds(agent, o); at most one object
  std::vector<uint8_t> opened;           // [receptacle]
  std::vector<uint8_t> in_receptacle;    // [object * R + receptacle]
  std::vector<uint8_t> left_receptacle;  // [object * R + receptacle]: not_inreceptacle facts
  std::vector<int32_t> object_location;  // [object]: objectAtLocation, kNone when carried
  std::vector<uint8_t> conditions;       // [object]: ObjectCondition bits
};

// A fact of a predicate the engine does not model (checked, full, ...), kept as the problem
// states it so that a goal may still test it.
struct OtherFact {
  std::string predicate;  // lowercased
  std::vector<std::string> args;
};

struct World {
  std::vector<Receptacle> receptacles;
  std::vector<Object> objects;
  std::vector<Location> locations;
  std::vector<std::string> types;    // lowercased otype/rtype names ("appletype")
  std::vector<std::string> agents;   // agents[0] acts; others stand where :init put them
  std::vector<int32_t> agent_start;  // [agent] location
  std::vector<uint8_t> can_contain;  // [rtype * T + otype]
  std::vector<OtherFact> other_facts;
  State initial;

  // Types the domain's actions name (kNone when the problem lacks them).
  int32_t sink_basin_type = kNone, microwave_type = kNone, fridge_type = kNone;
  int32_t knife_type = kNone, butter_knife_type = kNone;

  size_t R() const { return receptacles.size(); }
  bool InReceptacle(const State& s, int32_t o, int32_t r) const {
    return s.in_receptacle[static_cast<size_t>(o) * R() + static_cast<size_t>(r)] != 0;
  }
  bool CanContain(int32_t rtype, int32_t otype) const {
    return rtype != kNone && otype != kNone &&
           can_contain[static_cast<size_t>(rtype) * types.size() + static_cast<size_t>(otype)] != 0;
  }
  // A receptacle whose contents can be seen and reached: not openable, or open.
  bool Accessible(const State& s, int32_t r) const {
    return !receptacles[static_cast<size_t>(r)].openable || s.opened[static_cast<size_t>(r)] != 0;
  }

  // Name lookups for the command parser (exact, case-sensitive); kNone when unknown.
  int32_t FindReceptacle(std::string_view name) const;
  int32_t FindObject(std::string_view name) const;
  int32_t FindType(std::string_view lowercased) const;
  int32_t FindLocation(std::string_view lowercased_id) const;
  int32_t FindAgent(std::string_view lowercased_id) const;

  // Sorted (name, index) views; filled by BuildWorld.
  std::vector<std::pair<std::string_view, int32_t>> receptacle_names, object_names;
};

// Interns a problem's :init. InvalidArgument naming the atom when an atom has the wrong arity,
// names an entity of the wrong kind, or the problem places no agent.
StatusOr<std::shared_ptr<const World>> BuildWorld(const pddl::Problem& problem);

}  // namespace rock::alfworld
