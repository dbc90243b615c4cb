#include "envs/alfworld/task.h"

#include <map>
#include <set>
#include <utility>
#include <vector>

#include "envs/alfworld/names.h"

namespace rock::alfworld {
namespace {

struct TaskInfo {
  TaskType type;
  std::string_view name;
  std::string_view templates[kTemplatesPerTask];
};

// goal_library.py's templates; {o} object, {r} receptacle, {t} toggle.
constexpr TaskInfo kTasks[] = {
    {TaskType::kPickAndPlaceSimple,
     "pick_and_place_simple",
     {"put a {o} in {r}", "put some {o} on {r}"}},
    {TaskType::kLookAtObjInLight,
     "look_at_obj_in_light",
     {"look at {o} under the {t}", "examine the {o} with the {t}"}},
    {TaskType::kPickCleanThenPlace,
     "pick_clean_then_place_in_recep",
     {"put a clean {o} in {r}", "clean some {o} and put it in {r}"}},
    {TaskType::kPickHeatThenPlace,
     "pick_heat_then_place_in_recep",
     {"put a hot {o} in {r}", "heat some {o} and put it in {r}"}},
    {TaskType::kPickCoolThenPlace,
     "pick_cool_then_place_in_recep",
     {"put a cool {o} in {r}", "cool some {o} and put it in {r}"}},
    {TaskType::kPickTwoObjAndPlace,
     "pick_two_obj_and_place",
     {"put two {o} in {r}", "find two {o} and put them in {r}"}},
};

const TaskInfo& InfoOf(TaskType type) {
  for (const TaskInfo& info : kTasks) {
    if (info.type == type) return info;
  }
  return kTasks[0];
}

pddl::Formula AtomF(std::string predicate, std::vector<std::string> args) {
  pddl::Formula f;
  f.kind = pddl::Formula::Kind::kAtom;
  f.atom = {std::move(predicate), std::move(args)};
  return f;
}

pddl::Formula AndF(std::vector<pddl::Formula> children) {
  pddl::Formula f;
  f.kind = pddl::Formula::Kind::kAnd;
  f.children = std::move(children);
  return f;
}

pddl::Formula ExistsF(std::vector<pddl::TypedName> vars, pddl::Formula body) {
  pddl::Formula f;
  f.kind = pddl::Formula::Kind::kExists;
  f.vars = std::move(vars);
  f.children.push_back(std::move(body));
  return f;
}

// (exists (?r) (exists (?o) (and <extra ?o> (objectType ?o X) (receptacleType ?r Y)
// (inReceptacle ?o ?r)))), the shape of every "place" goal.
pddl::Formula PlaceGoal(const TaskSpec& spec, std::string_view able, std::string_view is) {
  std::vector<pddl::Formula> conj;
  if (!able.empty()) conj.push_back(AtomF(std::string(able), {"?o"}));
  conj.push_back(AtomF("objectType", {"?o", spec.object + "Type"}));
  conj.push_back(AtomF("receptacleType", {"?r", spec.receptacle + "Type"}));
  if (!is.empty()) conj.push_back(AtomF(std::string(is), {"?o"}));
  conj.push_back(AtomF("inReceptacle", {"?o", "?r"}));
  return AndF(
      {ExistsF({{"?r", "receptacle"}}, ExistsF({{"?o", "object"}}, AndF(std::move(conj))))});
}

void Flatten(const pddl::Formula& f, std::vector<const pddl::Atom*>* atoms) {
  if (f.kind == pddl::Formula::Kind::kAtom) {
    atoms->push_back(&f.atom);
    return;
  }
  if (f.kind == pddl::Formula::Kind::kAnd || f.kind == pddl::Formula::Kind::kExists) {
    for (const pddl::Formula& c : f.children) Flatten(c, atoms);
  }
}

// "PotatoType" -> "Potato"; the class keeps the problem's capitalisation.
std::string ClassOfType(const std::string& type) {
  if (type.size() > 4 && ToLower(type.substr(type.size() - 4)) == "type") {
    return type.substr(0, type.size() - 4);
  }
  return type;
}

}  // namespace

std::string_view TaskTypeName(TaskType type) { return InfoOf(type).name; }

std::optional<TaskType> ParseTaskType(std::string_view name) {
  for (const TaskInfo& info : kTasks) {
    if (info.name == name) return info.type;
  }
  return std::nullopt;
}

std::string TaskText(const TaskSpec& spec, int index) {
  std::string_view tmpl =
      InfoOf(spec.type)
          .templates[(index % kTemplatesPerTask + kTemplatesPerTask) % kTemplatesPerTask];
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{' && i + 2 < tmpl.size() && tmpl[i + 2] == '}') {
      char key = tmpl[i + 1];
      out += ToLower(key == 'o' ? spec.object : key == 'r' ? spec.receptacle : spec.toggle);
      i += 2;
    } else {
      out.push_back(tmpl[i]);
    }
  }
  return out;
}

pddl::Formula GoalFormula(const TaskSpec& spec) {
  switch (spec.type) {
    case TaskType::kPickAndPlaceSimple:
      return PlaceGoal(spec, "", "");
    case TaskType::kPickCleanThenPlace:
      return PlaceGoal(spec, "cleanable", "isClean");
    case TaskType::kPickHeatThenPlace:
      return PlaceGoal(spec, "heatable", "isHot");
    case TaskType::kPickCoolThenPlace:
      return PlaceGoal(spec, "coolable", "isCool");
    case TaskType::kPickTwoObjAndPlace: {
      pddl::Formula distinct;
      distinct.kind = pddl::Formula::Kind::kNot;
      pddl::Formula eq;
      eq.kind = pddl::Formula::Kind::kEquals;
      eq.atom = {"=", {"?o1", "?o2"}};
      distinct.children.push_back(std::move(eq));
      return AndF({ExistsF(
          {{"?r", "receptacle"}},
          ExistsF({{"?o1", "object"}},
                  ExistsF({{"?o2", "object"}},
                          AndF({AtomF("objectType", {"?o1", spec.object + "Type"}),
                                AtomF("objectType", {"?o2", spec.object + "Type"}),
                                AtomF("receptacleType", {"?r", spec.receptacle + "Type"}),
                                AtomF("inReceptacle", {"?o1", "?r"}),
                                AtomF("inReceptacle", {"?o2", "?r"}), std::move(distinct)}))))});
    }
    case TaskType::kLookAtObjInLight:
      return AndF({ExistsF({{"?ot", "object"}, {"?a", "agent"}, {"?l", "location"}},
                           AndF({AtomF("objectType", {"?ot", spec.toggle + "Type"}),
                                 AtomF("toggleable", {"?ot"}), AtomF("isToggled", {"?ot"}),
                                 AtomF("objectAtLocation", {"?ot", "?l"}),
                                 AtomF("atLocation", {"?a", "?l"})})),
                   ExistsF({{"?o", "object"}, {"?a", "agent"}},
                           AndF({AtomF("objectType", {"?o", spec.object + "Type"}),
                                 AtomF("holds", {"?a", "?o"})}))});
  }
  return AndF({});
}

std::optional<TaskSpec> InferTaskSpec(const pddl::Formula& goal) {
  std::vector<const pddl::Atom*> atoms;
  Flatten(goal, &atoms);
  std::map<std::string, std::string> object_class, receptacle_class;
  std::set<std::string> toggle_vars, placed_vars;
  std::set<std::string> unary;
  for (const pddl::Atom* a : atoms) {
    std::string pred = ToLower(a->predicate);
    if (pred == "objecttype" && a->args.size() == 2) object_class[a->args[0]] = a->args[1];
    if (pred == "receptacletype" && a->args.size() == 2) receptacle_class[a->args[0]] = a->args[1];
    if (pred == "inreceptacle" && !a->args.empty()) placed_vars.insert(a->args[0]);
    if ((pred == "istoggled" || pred == "ison" || pred == "toggleable") && !a->args.empty()) {
      toggle_vars.insert(a->args[0]);
    }
    unary.insert(pred);
  }
  TaskSpec spec;
  for (const auto& [var, type] : object_class) {
    if (toggle_vars.count(var)) {
      spec.toggle = ClassOfType(type);
    } else if (spec.object.empty()) {
      spec.object = ClassOfType(type);
    }
  }
  if (!receptacle_class.empty()) spec.receptacle = ClassOfType(receptacle_class.begin()->second);
  if (spec.object.empty()) return std::nullopt;
  if (!spec.toggle.empty()) {
    spec.type = TaskType::kLookAtObjInLight;
    return spec;
  }
  if (spec.receptacle.empty()) return std::nullopt;
  if (unary.count("ishot")) {
    spec.type = TaskType::kPickHeatThenPlace;
  } else if (unary.count("iscool")) {
    spec.type = TaskType::kPickCoolThenPlace;
  } else if (unary.count("isclean")) {
    spec.type = TaskType::kPickCleanThenPlace;
  } else if (placed_vars.size() >= 2) {
    spec.type = TaskType::kPickTwoObjAndPlace;
  } else {
    spec.type = TaskType::kPickAndPlaceSimple;
  }
  return spec;
}

}  // namespace rock::alfworld
