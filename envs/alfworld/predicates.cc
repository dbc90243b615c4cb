#include "envs/alfworld/predicates.h"

#include <algorithm>
#include <array>

namespace rock::alfworld {
namespace {

constexpr Kind A = Kind::kAgent, L = Kind::kLocation, R = Kind::kReceptacle, O = Kind::kObject,
               T = Kind::kType;

struct Entry {
  std::string_view name;  // lowercased, as Fast Downward reads the domain
  PredSignature sig;
};

constexpr std::array<Entry, 26> kTable = {{
    {"atlocation", {Pred::kAtLocation, 2, {A, L}}},
    {"receptacleatlocation", {Pred::kReceptacleAtLocation, 2, {R, L}}},
    {"objectatlocation", {Pred::kObjectAtLocation, 2, {O, L}}},
    {"openable", {Pred::kOpenable, 1, {R, R}}},
    {"opened", {Pred::kOpened, 1, {R, R}}},
    {"inreceptacle", {Pred::kInReceptacle, 2, {O, R}}},
    {"isreceptacleobject", {Pred::kIsReceptacleObject, 1, {O, O}}},
    {"inreceptacleobject", {Pred::kInReceptacleObject, 2, {O, O}}},
    {"receptacletype", {Pred::kReceptacleType, 2, {R, T}}},
    {"objecttype", {Pred::kObjectType, 2, {O, T}}},
    {"cancontain", {Pred::kCanContain, 2, {T, T}}},
    {"holds", {Pred::kHolds, 2, {A, O}}},
    {"holdsany", {Pred::kHoldsAny, 1, {A, A}}},
    {"isclean", {Pred::kIsClean, 1, {O, O}}},
    {"cleanable", {Pred::kCleanable, 1, {O, O}}},
    {"ishot", {Pred::kIsHot, 1, {O, O}}},
    {"heatable", {Pred::kHeatable, 1, {O, O}}},
    {"iscool", {Pred::kIsCool, 1, {O, O}}},
    {"coolable", {Pred::kCoolable, 1, {O, O}}},
    {"pickupable", {Pred::kPickupable, 1, {O, O}}},
    {"moveable", {Pred::kMoveable, 1, {O, O}}},
    {"toggleable", {Pred::kToggleable, 1, {O, O}}},
    {"ison", {Pred::kIsOn, 1, {O, O}}},
    {"istoggled", {Pred::kIsToggled, 1, {O, O}}},
    {"sliceable", {Pred::kSliceable, 1, {O, O}}},
    {"issliced", {Pred::kIsSliced, 1, {O, O}}},
}};

}  // namespace

PredSignature SignatureOf(std::string_view name) {
  auto same = [&](const Entry& e) {
    return e.name.size() == name.size() &&
           std::equal(e.name.begin(), e.name.end(), name.begin(), [](char lower, char c) {
             return lower == (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
           });
  };
  auto it = std::find_if(kTable.begin(), kTable.end(), same);
  if (it == kTable.end()) return {Pred::kOther, 0, {O, O}};
  return it->sig;
}

bool KindOfType(std::string_view lowercased, Kind* kind) {
  static constexpr std::pair<std::string_view, Kind> kTypes[] = {
      {"agent", A}, {"location", L}, {"receptacle", R}, {"object", O}, {"otype", T}, {"rtype", T}};
  for (const auto& [name, k] : kTypes) {
    if (name == lowercased) {
      *kind = k;
      return true;
    }
  }
  return false;
}

uint16_t TraitOf(Pred pred) {
  switch (pred) {
    case Pred::kPickupable:
      return kPickupable;
    case Pred::kCleanable:
      return kCleanable;
    case Pred::kHeatable:
      return kHeatable;
    case Pred::kCoolable:
      return kCoolable;
    case Pred::kSliceable:
      return kSliceable;
    case Pred::kToggleable:
      return kToggleable;
    case Pred::kIsReceptacleObject:
      return kReceptacleObject;
    case Pred::kMoveable:
      return kMoveable;
    default:
      return 0;
  }
}

uint8_t ConditionOf(Pred pred) {
  switch (pred) {
    case Pred::kIsClean:
      return kClean;
    case Pred::kIsHot:
      return kHot;
    case Pred::kIsCool:
      return kCool;
    case Pred::kIsSliced:
      return kSliced;
    case Pred::kIsToggled:
      return kToggled;
    case Pred::kIsOn:
      return kOn;
    default:
      return 0;
  }
}

bool Holds(const World& w, const State& s, Pred pred, int32_t a0, int32_t a1) {
  const auto u0 = static_cast<size_t>(a0);
  switch (pred) {
    case Pred::kAtLocation:
      return (a0 == 0 ? s.agent_location : w.agent_start[u0]) == a1;
    case Pred::kReceptacleAtLocation:
      return w.receptacles[u0].location == a1;
    case Pred::kObjectAtLocation:
      return s.object_location[u0] == a1;
    case Pred::kOpenable:
      return w.receptacles[u0].openable;
    case Pred::kOpened:
      return s.opened[u0] != 0;
    case Pred::kInReceptacle:
      return w.InReceptacle(s, a0, a1);
    case Pred::kInReceptacleObject: {
      const auto& inside = w.objects[static_cast<size_t>(a1)].inside;
      return std::find(inside.begin(), inside.end(), a0) != inside.end();
    }
    case Pred::kReceptacleType:
      return w.receptacles[u0].type == a1;
    case Pred::kObjectType:
      return w.objects[u0].type == a1;
    case Pred::kCanContain:
      return w.CanContain(a0, a1);
    case Pred::kHolds:
      return a0 == 0 && s.held == a1;
    case Pred::kHoldsAny:
      return a0 == 0 && s.held != kNone;
    case Pred::kOther:
      return false;
    default:
      break;
  }
  if (uint16_t trait = TraitOf(pred)) return (w.objects[u0].traits & trait) != 0;
  return (s.conditions[u0] & ConditionOf(pred)) != 0;
}

}  // namespace rock::alfworld
