// The predicates of alfred.pddl: the kinds of their arguments and their truth in a World and
// State. World building and goal evaluation both go through this table, so a predicate means
// the same thing in :init as in :goal.
#pragma once

#include <cstdint>
#include <string_view>

#include "envs/alfworld/world.h"

namespace rock::alfworld {

enum class Kind : uint8_t { kAgent, kLocation, kReceptacle, kObject, kType };

enum class Pred : uint8_t {
  kAtLocation,
  kReceptacleAtLocation,
  kObjectAtLocation,
  kOpenable,
  kOpened,
  kInReceptacle,
  kIsReceptacleObject,
  kInReceptacleObject,
  kReceptacleType,
  kObjectType,
  kCanContain,
  kHolds,
  kHoldsAny,
  kIsClean,
  kCleanable,
  kIsHot,
  kHeatable,
  kIsCool,
  kCoolable,
  kPickupable,
  kMoveable,
  kToggleable,
  kIsOn,
  kIsToggled,
  kSliceable,
  kIsSliced,
  kOther,  // any other predicate: true exactly when :init states it (World::other_facts)
};

// A set of predicates as a bit mask.
constexpr uint64_t Bit(Pred pred) { return uint64_t{1} << static_cast<unsigned>(pred); }

struct PredSignature {
  Pred pred;
  int arity;
  Kind args[2];
};

// The signature of a predicate name in any case (PDDL names are case-insensitive); pred ==
// kOther when the engine does not model it (its arguments are then unchecked).
PredSignature SignatureOf(std::string_view name);

// The kind a declared PDDL type names ("object" -> kObject, "otype" -> kType); false when the
// type is none of alfred.pddl's.
bool KindOfType(std::string_view lowercased, Kind* kind);

// Truth of a modelled predicate (not kOther) for arguments given as indices into the World's
// table of each argument's kind (agents, locations, receptacles, objects, types).
bool Holds(const World& world, const State& state, Pred pred, int32_t a0, int32_t a1);

// The ObjectTrait / ObjectCondition bit a unary object predicate stands for (0 when none).
uint16_t TraitOf(Pred pred);
uint8_t ConditionOf(Pred pred);

}  // namespace rock::alfworld
