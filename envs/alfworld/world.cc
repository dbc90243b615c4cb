#include "envs/alfworld/world.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "envs/alfworld/names.h"
#include "envs/alfworld/predicates.h"

namespace rock::alfworld {
namespace {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kAgent:
      return "agent";
    case Kind::kLocation:
      return "location";
    case Kind::kReceptacle:
      return "receptacle";
    case Kind::kObject:
      return "object";
    case Kind::kType:
      return "otype/rtype";
  }
  return "?";
}

std::string AtomText(const pddl::Atom& atom) {
  std::string text = "(" + atom.predicate;
  for (const std::string& arg : atom.args) text += " " + arg;
  return text + ")";
}

int32_t FindIn(const std::vector<std::pair<std::string_view, int32_t>>& sorted,
               std::string_view key) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), key,
                             [](const auto& entry, std::string_view k) { return entry.first < k; });
  return it != sorted.end() && it->first == key ? it->second : kNone;
}

template <typename T>
std::vector<std::pair<std::string_view, int32_t>> SortedBy(const std::vector<T>& items,
                                                           std::string T::*field) {
  std::vector<std::pair<std::string_view, int32_t>> out;
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    out.emplace_back(items[i].*field, static_cast<int32_t>(i));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// One :init atom with its arguments resolved to per-kind indices.
struct ResolvedAtom {
  PredSignature sig;
  int32_t a0 = kNone, a1 = kNone;
};

}  // namespace

int32_t World::FindReceptacle(std::string_view name) const {
  return FindIn(receptacle_names, name);
}
int32_t World::FindObject(std::string_view name) const { return FindIn(object_names, name); }

int32_t World::FindType(std::string_view lowercased) const {
  auto it = std::lower_bound(types.begin(), types.end(), lowercased);
  return it != types.end() && *it == lowercased ? static_cast<int32_t>(it - types.begin()) : kNone;
}

int32_t World::FindLocation(std::string_view lowercased_id) const {
  auto it = std::lower_bound(locations.begin(), locations.end(), lowercased_id,
                             [](const Location& l, std::string_view k) { return l.id < k; });
  return it != locations.end() && it->id == lowercased_id
             ? static_cast<int32_t>(it - locations.begin())
             : kNone;
}

int32_t World::FindAgent(std::string_view lowercased_id) const {
  auto it = std::lower_bound(agents.begin(), agents.end(), lowercased_id);
  return it != agents.end() && *it == lowercased_id ? static_cast<int32_t>(it - agents.begin())
                                                    : kNone;
}

StatusOr<std::shared_ptr<const World>> BuildWorld(const pddl::Problem& problem) {
  std::unordered_map<std::string, Kind> declared;
  declared.reserve(problem.objects.size());
  for (const pddl::TypedName& obj : problem.objects) {
    Kind kind;
    if (KindOfType(ToLower(obj.type), &kind)) declared[ToLower(obj.name)] = kind;
  }

  // Entities are what the facts mention (TextWorld names exactly those), each with one kind.
  // Every argument is interned once; arg_slots keeps each atom's entity slots for pass two.
  struct Entity {
    std::string id;  // lowercased
    std::optional<Kind> kind;
    int32_t index = kNone;  // within its kind's table
  };
  std::vector<Entity> entities;
  std::unordered_map<std::string, uint32_t> slot_of;
  slot_of.reserve(problem.objects.size() + 16);
  entities.reserve(problem.objects.size() + 16);
  std::vector<uint32_t> arg_slots;
  arg_slots.reserve(problem.init.size() * 2);
  std::vector<PredSignature> sigs;
  sigs.reserve(problem.init.size());
  std::string key;
  for (const pddl::Atom& atom : problem.init) {
    PredSignature sig = SignatureOf(atom.predicate);
    if (sig.pred != Pred::kOther && static_cast<int>(atom.args.size()) != sig.arity) {
      return InvalidArgument(":init atom " + AtomText(atom) + ": expected " +
                             std::to_string(sig.arity) + " argument(s)");
    }
    sigs.push_back(sig);
    for (size_t i = 0; i < atom.args.size(); ++i) {
      key.assign(atom.args[i]);
      for (char& c : key) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      auto [it, inserted] = slot_of.try_emplace(key, static_cast<uint32_t>(entities.size()));
      if (inserted) entities.push_back({key, std::nullopt});
      arg_slots.push_back(it->second);
      if (sig.pred == Pred::kOther) continue;
      Entity& e = entities[it->second];
      Kind want = sig.args[i];
      auto decl = declared.find(key);
      if (decl != declared.end() && decl->second != want) {
        return InvalidArgument(":init atom " + AtomText(atom) + ": " + atom.args[i] + " is a " +
                               std::string(KindName(decl->second)) + ", expected a " +
                               std::string(KindName(want)));
      }
      if (e.kind && *e.kind != want) {
        return InvalidArgument(":init atom " + AtomText(atom) + ": " + atom.args[i] +
                               " is used as a " + std::string(KindName(*e.kind)) +
                               " elsewhere, here as a " + std::string(KindName(want)));
      }
      e.kind = want;
    }
  }
  std::vector<uint32_t> order(entities.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return entities[a].id < entities[b].id; });
  std::vector<std::string> sorted_ids;
  sorted_ids.reserve(order.size());
  for (uint32_t slot : order) sorted_ids.push_back(entities[slot].id);
  std::vector<std::string> display = DisplayNames(sorted_ids);

  auto world = std::make_shared<World>();
  for (size_t k = 0; k < order.size(); ++k) {  // sorted id order within every kind
    Entity& e = entities[order[k]];
    if (!e.kind) continue;
    std::string& name = display[k];
    // An id without a class (no "_bar_") is shown as its own text with a trailing space, and
    // commands are trimmed, so no command could reach such an object or receptacle: it would be
    // listed as admissible and refused when sent. ALFWorld gives every one of them a class.
    if ((*e.kind == Kind::kReceptacle || *e.kind == Kind::kObject) && name.ends_with(' ')) {
      return InvalidArgument(std::string(KindName(*e.kind)) + " " + e.id +
                             " has no class: its id needs a '_bar_' after the class, as in desk_bar_1");
    }
    switch (*e.kind) {
      case Kind::kAgent:
        e.index = static_cast<int32_t>(world->agents.size());
        world->agents.push_back(e.id);
        break;
      case Kind::kLocation:
        e.index = static_cast<int32_t>(world->locations.size());
        world->locations.push_back({e.id, std::move(name), {}});
        break;
      case Kind::kReceptacle:
        e.index = static_cast<int32_t>(world->receptacles.size());
        world->receptacles.push_back({e.id, std::move(name)});
        break;
      case Kind::kObject:
        e.index = static_cast<int32_t>(world->objects.size());
        world->objects.push_back({e.id, std::move(name)});
        break;
      case Kind::kType:
        e.index = static_cast<int32_t>(world->types.size());
        world->types.push_back(e.id);
        break;
    }
  }
  const size_t R = world->receptacles.size(), O = world->objects.size(), T = world->types.size();
  State& s = world->initial;
  s.opened.assign(R, 0);
  s.in_receptacle.assign(O * R, 0);
  s.left_receptacle.assign(O * R, 0);
  s.object_location.assign(O, kNone);
  s.conditions.assign(O, 0);
  world->can_contain.assign(T * T, 0);
  world->agent_start.assign(world->agents.size(), kNone);

  size_t next_arg = 0;
  for (size_t n = 0; n < problem.init.size(); ++n) {
    const pddl::Atom& atom = problem.init[n];
    ResolvedAtom a{sigs[n]};
    const size_t first_arg = next_arg;
    next_arg += atom.args.size();
    if (a.sig.pred == Pred::kOther) {
      OtherFact fact{ToLower(atom.predicate), {}};
      for (size_t i = first_arg; i < next_arg; ++i) fact.args.push_back(entities[arg_slots[i]].id);
      world->other_facts.push_back(std::move(fact));
      continue;
    }
    a.a0 = entities[arg_slots[first_arg]].index;
    if (a.sig.arity == 2) a.a1 = entities[arg_slots[first_arg + 1]].index;
    const auto u0 = static_cast<size_t>(a.a0), u1 = static_cast<size_t>(a.a1);
    switch (a.sig.pred) {
      case Pred::kAtLocation:
        if (world->agent_start[u0] == kNone) world->agent_start[u0] = a.a1;
        break;
      case Pred::kReceptacleAtLocation:
        // A receptacle stands in one place; a second placement in :init is ignored.
        if (world->receptacles[u0].location == kNone) {
          world->receptacles[u0].location = a.a1;
          world->locations[u1].receptacles.push_back(a.a0);
        }
        break;
      case Pred::kObjectAtLocation:
        if (s.object_location[u0] == kNone) s.object_location[u0] = a.a1;
        break;
      case Pred::kOpenable:
        world->receptacles[u0].openable = true;
        break;
      case Pred::kOpened:
        s.opened[u0] = 1;
        break;
      case Pred::kInReceptacle:
        s.in_receptacle[u0 * R + u1] = 1;
        break;
      case Pred::kInReceptacleObject:
        world->objects[u1].inside.push_back(a.a0);
        break;
      case Pred::kReceptacleType:
        world->receptacles[u0].type = a.a1;
        break;
      case Pred::kObjectType:
        world->objects[u0].type = a.a1;
        break;
      case Pred::kCanContain:
        world->can_contain[u0 * T + u1] = 1;
        break;
      case Pred::kHolds:
        if (a.a0 == 0 && s.held == kNone) s.held = a.a1;
        break;
      case Pred::kHoldsAny:
        break;  // implied by holds
      default:
        if (uint16_t trait = TraitOf(a.sig.pred)) {
          world->objects[u0].traits |= trait;
        } else {
          s.conditions[u0] |= ConditionOf(a.sig.pred);
        }
    }
  }
  if (world->agents.empty() || world->agent_start[0] == kNone) {
    return InvalidArgument(":init places no agent: expected (atLocation <agent> <location>)");
  }
  s.agent_location = world->agent_start[0];
  for (Location& loc : world->locations) std::sort(loc.receptacles.begin(), loc.receptacles.end());
  for (Object& obj : world->objects) std::sort(obj.inside.begin(), obj.inside.end());

  world->sink_basin_type = world->FindType("sinkbasintype");
  world->microwave_type = world->FindType("microwavetype");
  world->fridge_type = world->FindType("fridgetype");
  world->knife_type = world->FindType("knifetype");
  world->butter_knife_type = world->FindType("butterknifetype");
  world->receptacle_names = SortedBy(world->receptacles, &Receptacle::name);
  world->object_names = SortedBy(world->objects, &Object::name);
  return std::shared_ptr<const World>(std::move(world));
}

}  // namespace rock::alfworld
