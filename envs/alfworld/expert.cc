#include "envs/alfworld/expert.h"

#include "envs/alfworld/names.h"

namespace rock::alfworld {
namespace {

struct Plan {
  const World& w;
  const State& s;
  int32_t object_type, receptacle_type, toggle_type, appliance_type;
  uint8_t condition;  // kHot / kCool / kClean the object must have, or 0
  bool two;
  Grammar grammar;

  const Receptacle& Rec(int32_t r) const { return w.receptacles[static_cast<size_t>(r)]; }
  const Object& Obj(int32_t o) const { return w.objects[static_cast<size_t>(o)]; }
  bool Here(int32_t r) const { return Rec(r).location == s.agent_location; }

  // The reachable receptacle holding `o` (kNone when it is carried or nowhere).
  int32_t HomeOf(int32_t o) const {
    for (int32_t r = 0; r < static_cast<int32_t>(w.R()); ++r) {
      if (w.InReceptacle(s, o, r) && Rec(r).location != kNone) return r;
    }
    return kNone;
  }

  std::string Put(int32_t o, int32_t r) const {
    return grammar == Grammar::kV04 ? "move " + Obj(o).name + " to " + Rec(r).name
                                    : "put " + Obj(o).name + " in/on " + Rec(r).name;
  }

  // Go to r, open it if needed; "" once r is at hand.
  std::string Reach(int32_t r) const {
    if (!Here(r)) return "go to " + Rec(r).name;
    if (!w.Accessible(s, r)) return "open " + Rec(r).name;
    return "";
  }

  // The receptacle the goal's objects go to: for two objects, the one already holding one.
  int32_t Destination() const {
    int32_t best = kNone, best_count = -1;
    for (int32_t r = 0; r < static_cast<int32_t>(w.R()); ++r) {
      if (Rec(r).type != receptacle_type || Rec(r).location == kNone) continue;
      int32_t count = 0;
      for (int32_t o = 0; o < static_cast<int32_t>(w.objects.size()); ++o) {
        count += Obj(o).type == object_type && w.InReceptacle(s, o, r);
      }
      if (count > best_count) best = r, best_count = count;
    }
    return best;
  }

  bool Ready(int32_t o) const {
    return condition == 0 || (s.conditions[static_cast<size_t>(o)] & condition);
  }

  std::string Next() const {
    const int32_t dest = receptacle_type != kNone ? Destination() : kNone;
    if (s.held != kNone) {
      const int32_t h = s.held;
      if (Obj(h).type == object_type) {
        if (!Ready(h)) {
          for (int32_t r = 0; r < static_cast<int32_t>(w.R()); ++r) {
            if (Rec(r).type != appliance_type || Rec(r).location == kNone) continue;
            if (!Here(r)) return "go to " + Rec(r).name;
            std::string_view verb = condition == kHot    ? "heat "
                                    : condition == kCool ? "cool "
                                                         : "clean ";
            return std::string(verb) + Obj(h).name + " with " + Rec(r).name;
          }
          return "";
        }
        if (toggle_type != kNone) return UseLamp();
        if (dest == kNone) return "";
        std::string step = Reach(dest);
        return step.empty() ? Put(h, dest) : step;
      }
      // Holding something else: set it down in the nearest place that takes it.
      for (int32_t r = 0; r < static_cast<int32_t>(w.R()); ++r) {
        if (Rec(r).location == kNone || !w.CanContain(Rec(r).type, Obj(h).type)) continue;
        std::string step = Reach(r);
        return step.empty() ? Put(h, r) : step;
      }
      return "";
    }
    // Hands free: fetch an object of the goal's type that is not yet where it belongs.
    for (int32_t o = 0; o < static_cast<int32_t>(w.objects.size()); ++o) {
      if (Obj(o).type != object_type || !(Obj(o).traits & kPickupable)) continue;
      if (dest != kNone && w.InReceptacle(s, o, dest) && (two || Ready(o))) continue;
      int32_t home = HomeOf(o);
      if (home == kNone) continue;
      std::string step = Reach(home);
      return step.empty() ? "take " + Obj(o).name + " from " + Rec(home).name : step;
    }
    return "";
  }

  std::string UseLamp() const {
    for (int32_t o = 0; o < static_cast<int32_t>(w.objects.size()); ++o) {
      if (Obj(o).type != toggle_type) continue;
      int32_t home = HomeOf(o);
      if (home == kNone) continue;
      if (!Here(home)) return "go to " + Rec(home).name;
      return "use " + Obj(o).name;
    }
    return "";
  }
};

int32_t TypeOf(const World& w, const std::string& cls) {
  return cls.empty() ? kNone : w.FindType(ToLower(cls) + "type");
}

}  // namespace

std::string ExpertCommand(const Engine& engine) {
  const Game& game = engine.game();
  if (engine.won() || !game.spec) return "";
  const World& w = engine.world();
  const TaskSpec& spec = *game.spec;
  Plan plan{w,
            engine.state(),
            TypeOf(w, spec.object),
            TypeOf(w, spec.receptacle),
            TypeOf(w, spec.toggle),
            kNone,
            0,
            spec.type == TaskType::kPickTwoObjAndPlace,
            engine.grammar()};
  switch (spec.type) {
    case TaskType::kPickHeatThenPlace:
      plan.appliance_type = w.microwave_type;
      plan.condition = kHot;
      break;
    case TaskType::kPickCoolThenPlace:
      plan.appliance_type = w.fridge_type;
      plan.condition = kCool;
      break;
    case TaskType::kPickCleanThenPlace:
      plan.appliance_type = w.sink_basin_type;
      plan.condition = kClean;
      break;
    default:
      break;
  }
  if (plan.object_type == kNone) return "";
  return plan.Next();
}

std::vector<std::string> RunExpert(Engine& engine, int max_steps) {
  std::vector<std::string> played;
  while (static_cast<int>(played.size()) < max_steps && !engine.won()) {
    std::string cmd = ExpertCommand(engine);
    if (cmd.empty()) break;
    engine.Step(cmd);
    played.push_back(std::move(cmd));
  }
  return played;
}

}  // namespace rock::alfworld
