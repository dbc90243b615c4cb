#include "envs/alfworld/engine.h"

#include <algorithm>

#include "envs/alfworld/predicates.h"

namespace rock::alfworld {
namespace {

constexpr std::string_view kWelcome = "-= Welcome to TextWorld, ALFRED! =-\n\n";
constexpr std::string_view kNothingHappens = "Nothing happens.";
// What taking or putting an object changes.
constexpr uint64_t kCarryChanges = Bit(Pred::kInReceptacle) | Bit(Pred::kHolds) |
                                   Bit(Pred::kHoldsAny) | Bit(Pred::kObjectAtLocation);

// alfred.twl2's help text; 0.3 listed "put" where 0.4 lists "move".
constexpr std::string_view kHelpHead =
    "\nAvailable commands:\n"
    "  look:                             look around your current location\n"
    "  inventory:                        check your current inventory\n"
    "  go to (receptacle):               move to a receptacle\n"
    "  open (receptacle):                open a receptacle\n"
    "  close (receptacle):               close a receptacle\n"
    "  take (object) from (receptacle):  take an object from a receptacle\n";
constexpr std::string_view kHelpMoveV04 =
    "  move (object) to (receptacle):  place an object in or on a receptacle\n";
constexpr std::string_view kHelpPutV03 =
    "  put (object) in/on (receptacle):  place an object in or on a receptacle\n";
constexpr std::string_view kHelpTail =
    "  examine (something):              examine a receptacle or an object\n"
    "  use (object):                     use an object\n"
    "  heat (object) with (receptacle):  heat an object using a receptacle\n"
    "  clean (object) with (receptacle): clean an object using a receptacle\n"
    "  cool (object) with (receptacle):  cool an object using a receptacle\n"
    "  slice (object) with (object):     slice an object using a sharp object\n";

// Python's str.strip() on ASCII: whitespace and the information separators \x1c-\x1f.
bool IsStripped(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsStripped(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsStripped(s.back())) s.remove_suffix(1);
  return s;
}

bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (s->substr(0, prefix.size()) != prefix) return false;
  s->remove_prefix(prefix.size());
  return true;
}

// "apple 1 from countertop 1" split at " from " into its two names.
bool SplitAt(std::string_view s, std::string_view sep, std::string_view* left,
             std::string_view* right) {
  size_t at = s.find(sep);
  if (at == std::string_view::npos) return false;
  *left = s.substr(0, at);
  *right = s.substr(at + sep.size());
  return true;
}

// Appends every part to `out`.
template <typename... Parts>
void Say(std::string* out, const Parts&... parts) {
  (out->append(std::string_view(parts)), ...);
}

}  // namespace

Engine::Engine(std::shared_ptr<const Game> game, Grammar grammar)
    : game_(std::move(game)), world_(game_->world.get()), grammar_(grammar) {
  list_.reserve(std::max(world_->objects.size(), world_->receptacles.size()) * 2 + 4);
  observation_.reserve(1024);
  for (Verb always : {Verb::kHelp, Verb::kInventory, Verb::kLook}) {
    Format({always}, &static_commands_.emplace_back().text);
  }
  for (int32_t r = 0; r < static_cast<int32_t>(world_->receptacles.size()); ++r) {
    int32_t location = world_->receptacles[static_cast<size_t>(r)].location;
    if (location == kNone) continue;
    StaticCommand& go = static_commands_.emplace_back();
    Format({Verb::kGoTo, r}, &go.text);
    go.location = location;
  }
  std::sort(static_commands_.begin(), static_commands_.end(),
            [](const StaticCommand& a, const StaticCommand& b) { return a.text < b.text; });
  Reset();
}

const std::string& Engine::Reset() {
  state_ = world_->initial;
  won_ = game_->goal.Evaluate(*world_, state_);
  observation_.assign(kWelcome);
  AppendLook(&observation_);
  observation_ += "\n\nYour task is to: ";
  observation_ += game_->task_text;
  observation_ += '.';
  return observation_;
}

bool Engine::AtAgent(int32_t r) const {
  int32_t loc = world_->receptacles[static_cast<size_t>(r)].location;
  return loc != kNone && loc == state_.agent_location;
}

bool Engine::Parse(std::string_view text, Command* cmd) const {
  const World& w = *world_;
  std::string_view x, y;
  if (text == "look") {
    *cmd = {Verb::kLook};
  } else if (text == "inventory") {
    *cmd = {Verb::kInventory};
  } else if (text == "help") {
    *cmd = {Verb::kHelp};
  } else if (ConsumePrefix(&text, "go to ")) {
    *cmd = {Verb::kGoTo, w.FindReceptacle(text)};
  } else if (ConsumePrefix(&text, "open ")) {
    *cmd = {Verb::kOpen, w.FindReceptacle(text)};
  } else if (ConsumePrefix(&text, "close ")) {
    *cmd = {Verb::kClose, w.FindReceptacle(text)};
  } else if (ConsumePrefix(&text, "take ") && SplitAt(text, " from ", &x, &y)) {
    *cmd = {Verb::kTake, w.FindObject(x), w.FindReceptacle(y)};
  } else if (grammar_ == Grammar::kV04 && ConsumePrefix(&text, "move ") &&
             SplitAt(text, " to ", &x, &y)) {
    *cmd = {Verb::kPut, w.FindObject(x), w.FindReceptacle(y)};
  } else if (grammar_ == Grammar::kV03 && ConsumePrefix(&text, "put ") &&
             SplitAt(text, " in/on ", &x, &y)) {
    *cmd = {Verb::kPut, w.FindObject(x), w.FindReceptacle(y)};
  } else if (ConsumePrefix(&text, "heat ") && SplitAt(text, " with ", &x, &y)) {
    *cmd = {Verb::kHeat, w.FindObject(x), w.FindReceptacle(y)};
  } else if (ConsumePrefix(&text, "cool ") && SplitAt(text, " with ", &x, &y)) {
    *cmd = {Verb::kCool, w.FindObject(x), w.FindReceptacle(y)};
  } else if (ConsumePrefix(&text, "clean ") && SplitAt(text, " with ", &x, &y)) {
    *cmd = {Verb::kClean, w.FindObject(x), w.FindReceptacle(y)};
  } else if (ConsumePrefix(&text, "slice ") && SplitAt(text, " with ", &x, &y)) {
    *cmd = {Verb::kSlice, w.FindObject(x), w.FindObject(y)};
  } else if (ConsumePrefix(&text, "use ")) {
    *cmd = {Verb::kUse, w.FindObject(text)};
  } else if (ConsumePrefix(&text, "examine ")) {
    int32_t r = w.FindReceptacle(text);
    *cmd = r != kNone ? Command{Verb::kExamineReceptacle, r}
                      : Command{Verb::kExamineObject, w.FindObject(text)};
  } else {
    return false;
  }
  switch (cmd->verb) {
    case Verb::kLook:
    case Verb::kInventory:
    case Verb::kHelp:
      return true;
    case Verb::kGoTo:
    case Verb::kOpen:
    case Verb::kClose:
    case Verb::kUse:
    case Verb::kExamineReceptacle:
    case Verb::kExamineObject:
      return cmd->a != kNone;
    default:
      return cmd->a != kNone && cmd->b != kNone;
  }
}

// The preconditions of alfred.pddl's actions. A go-to whose target stands where the agent
// already is changes nothing; Fast Downward drops such no-op operators, so ALFWorld never
// offers them.
bool Engine::Applicable(const Command& c) const {
  const World& w = *world_;
  const State& s = state_;
  auto obj = [&](int32_t o) -> const Object& { return w.objects[static_cast<size_t>(o)]; };
  auto rec = [&](int32_t r) -> const Receptacle& { return w.receptacles[static_cast<size_t>(r)]; };
  auto opened = [&](int32_t r) { return s.opened[static_cast<size_t>(r)] != 0; };
  switch (c.verb) {
    case Verb::kLook:
    case Verb::kInventory:
    case Verb::kHelp:
      return true;
    case Verb::kGoTo:
      return rec(c.a).location != kNone && rec(c.a).location != s.agent_location;
    case Verb::kOpen:
      return rec(c.a).openable && AtAgent(c.a) && !opened(c.a);
    case Verb::kClose:
      return rec(c.a).openable && AtAgent(c.a) && opened(c.a);
    case Verb::kTake:
      return (obj(c.a).traits & kPickupable) && AtAgent(c.b) && w.InReceptacle(s, c.a, c.b) &&
             s.held == kNone && w.Accessible(s, c.b);
    case Verb::kPut:
      return s.held == c.a && AtAgent(c.b) && w.Accessible(s, c.b) &&
             w.CanContain(rec(c.b).type, obj(c.a).type);
    case Verb::kHeat:
      return (obj(c.a).traits & kHeatable) && rec(c.b).type == w.microwave_type &&
             w.microwave_type != kNone && AtAgent(c.b) && s.held == c.a;
    case Verb::kCool:
      return (obj(c.a).traits & kCoolable) && rec(c.b).type == w.fridge_type &&
             w.fridge_type != kNone && AtAgent(c.b) && s.held == c.a;
    case Verb::kClean:
      return (obj(c.a).traits & kCleanable) && rec(c.b).type == w.sink_basin_type &&
             w.sink_basin_type != kNone && AtAgent(c.b) && s.held == c.a;
    case Verb::kUse:
      if (!(obj(c.a).traits & kToggleable)) return false;
      for (int32_t r : w.locations[static_cast<size_t>(s.agent_location)].receptacles) {
        if (w.InReceptacle(s, c.a, r)) return true;
      }
      return false;
    case Verb::kSlice: {
      int32_t knife = obj(c.b).type;
      return (obj(c.a).traits & kSliceable) && knife != kNone &&
             (knife == w.knife_type || knife == w.butter_knife_type) &&
             s.object_location[static_cast<size_t>(c.a)] == s.agent_location && s.held == c.b;
    }
    case Verb::kExamineReceptacle:
      return AtAgent(c.a);
    case Verb::kExamineObject:
      if (s.held == c.a) return true;
      for (int32_t r : w.locations[static_cast<size_t>(s.agent_location)].receptacles) {
        if (w.InReceptacle(s, c.a, r) && w.Accessible(s, r)) return true;
      }
      return false;
  }
  return false;
}

Engine::Outcome Engine::Step(std::string_view text) {
  Command cmd{Verb::kLook};
  if (!Parse(Trim(text), &cmd) || !Applicable(cmd)) {
    observation_.assign(kNothingHappens);
    return {false, won_};
  }
  observation_.clear();
  Apply(cmd);
  return {true, won_};
}

void Engine::Apply(const Command& c) {
  const World& w = *world_;
  State& s = state_;
  std::string* out = &observation_;
  auto rname = [&](int32_t r) -> const std::string& {
    return w.receptacles[static_cast<size_t>(r)].name;
  };
  auto oname = [&](int32_t o) -> const std::string& {
    return w.objects[static_cast<size_t>(o)].name;
  };
  auto cell = [&] { return static_cast<size_t>(c.a) * w.R() + static_cast<size_t>(c.b); };
  // The predicates this command changes (none for the ones that only show something).
  uint64_t changed = 0;
  switch (c.verb) {
    case Verb::kLook:
      AppendLook(out);
      break;
    case Verb::kInventory:
      if (s.held == kNone) {
        Say(out, "You are not carrying anything.");
      } else {
        Say(out, "You are carrying: a ", oname(s.held), ".");
      }
      break;
    case Verb::kHelp:
      Say(out, kHelpHead, grammar_ == Grammar::kV04 ? kHelpMoveV04 : kHelpPutV03, kHelpTail);
      break;
    case Verb::kGoTo: {
      int32_t loc = w.receptacles[static_cast<size_t>(c.a)].location;
      s.agent_location = loc;
      changed = Bit(Pred::kAtLocation);
      Say(out, "You arrive at ",
          grammar_ == Grammar::kV04 ? rname(c.a) : w.locations[static_cast<size_t>(loc)].name,
          ". ");
      AppendReceptacleView(c.a, out);
      break;
    }
    case Verb::kOpen:
      s.opened[static_cast<size_t>(c.a)] = 1;
      changed = Bit(Pred::kOpened);
      Say(out, "You open the ", rname(c.a), ". ");
      AppendReceptacleView(c.a, out);
      break;
    case Verb::kClose:
      s.opened[static_cast<size_t>(c.a)] = 0;
      changed = Bit(Pred::kOpened);
      Say(out, "You close the ", rname(c.a), ".");
      break;
    case Verb::kTake:
      changed = kCarryChanges;
      s.in_receptacle[cell()] = 0;
      s.left_receptacle[cell()] = 1;
      s.held = c.a;
      if (s.object_location[static_cast<size_t>(c.a)] == s.agent_location) {
        s.object_location[static_cast<size_t>(c.a)] = kNone;
      }
      Say(out, "You pick up the ", oname(c.a), " from the ", rname(c.b), ".");
      break;
    case Verb::kPut:
      changed = kCarryChanges;
      s.in_receptacle[cell()] = 1;
      s.left_receptacle[cell()] = 0;
      s.object_location[static_cast<size_t>(c.a)] = s.agent_location;
      s.held = kNone;
      if (grammar_ == Grammar::kV04) {
        Say(out, "You move the ", oname(c.a), " to the ", rname(c.b), ".");
      } else {
        Say(out, "You put the ", oname(c.a), " in/on the ", rname(c.b), ".");
      }
      break;
    case Verb::kHeat:
    case Verb::kCool:
    case Verb::kClean: {
      uint8_t& cond = s.conditions[static_cast<size_t>(c.a)];
      changed = Bit(Pred::kIsHot) | Bit(Pred::kIsCool) | Bit(Pred::kIsClean);
      std::string_view verb;
      if (c.verb == Verb::kHeat) {
        cond = static_cast<uint8_t>((cond | kHot) & ~kCool);
        verb = "You heat the ";
      } else if (c.verb == Verb::kCool) {
        cond = static_cast<uint8_t>((cond | kCool) & ~kHot);
        verb = "You cool the ";
      } else {
        cond = static_cast<uint8_t>(cond | kClean);
        verb = "You clean the ";
      }
      Say(out, verb, oname(c.a), " using the ", rname(c.b), ".");
      break;
    }
    case Verb::kUse: {
      uint8_t& cond = s.conditions[static_cast<size_t>(c.a)];
      cond = static_cast<uint8_t>((cond ^ kOn) | kToggled);
      changed = Bit(Pred::kIsOn) | Bit(Pred::kIsToggled);
      // isToggled is set by every use, so the grammar's first branch always applies.
      Say(out, "You turn on the ", oname(c.a), ".");
      break;
    }
    case Verb::kSlice:
      s.conditions[static_cast<size_t>(c.a)] |= kSliced;
      changed = Bit(Pred::kIsSliced);
      Say(out, "You sliced the ", oname(c.a), " with the ", oname(c.b), ".");
      break;
    case Verb::kExamineReceptacle:
      AppendReceptacleView(c.a, out);
      break;
    case Verb::kExamineObject:
      AppendExamineObject(c.a, out);
      break;
  }
  const Goal& goal = game_->goal;
  if (goal.MentionsAny(changed)) won_ = goal.Evaluate(w, s);
}

void Engine::AppendList(std::string_view article, std::string* out) {
  if (list_.empty()) {
    *out += "nothing";
    return;
  }
  for (size_t i = 0; i < list_.size(); ++i) {
    if (i > 0) *out += i + 1 == list_.size() ? ", and " : ", ";
    *out += article;
    *out += *list_[i];
  }
  list_.clear();
}

void Engine::AppendReceptacleView(int32_t r, std::string* out) {
  const World& w = *world_;
  const Receptacle& rec = w.receptacles[static_cast<size_t>(r)];
  if (rec.openable && !state_.opened[static_cast<size_t>(r)]) {
    Say(out, "The ", rec.name, " is closed.");
    return;
  }
  if (rec.openable) {
    Say(out, "The ", rec.name, " is open. In it, you see ");
  } else {
    Say(out, "On the ", rec.name, ", you see ");
  }
  for (size_t o = 0; o < w.objects.size(); ++o) {
    if (w.InReceptacle(state_, static_cast<int32_t>(o), r)) list_.push_back(&w.objects[o].name);
  }
  AppendList("a ", out);
  *out += '.';
}

void Engine::AppendLook(std::string* out) {
  const World& w = *world_;
  const Location& here = w.locations[static_cast<size_t>(state_.agent_location)];
  if (here.receptacles.empty()) {
    *out += "You are in the middle of a room. Looking quickly around you, you see ";
    for (const Receptacle& r : w.receptacles) {
      if (r.location != kNone) list_.push_back(&r.name);
    }
    AppendList("a ", out);
    *out += '.';
    return;
  }
  *out += "You are facing the ";
  for (int32_t r : here.receptacles) list_.push_back(&w.receptacles[static_cast<size_t>(r)].name);
  AppendList("", out);
  // Objects left here outside a receptacle they were taken from: the grammar's
  // objectatlocation & receptacleatlocation & not_inreceptacle query, one entry per match.
  *out += ". Next to it, you see ";
  for (size_t o = 0; o < w.objects.size(); ++o) {
    if (state_.object_location[o] != state_.agent_location) continue;
    for (int32_t r : here.receptacles) {
      if (state_.left_receptacle[o * w.R() + static_cast<size_t>(r)]) {
        list_.push_back(&w.objects[o].name);
      }
    }
  }
  AppendList("a ", out);
  *out += '.';
}

void Engine::AppendExamineObject(int32_t o, std::string* out) {
  const World& w = *world_;
  const Object& obj = w.objects[static_cast<size_t>(o)];
  const uint8_t c = state_.conditions[static_cast<size_t>(o)];
  if (obj.traits & kReceptacleObject) {
    Say(out, "This is a normal ", obj.name, ". In it, you see ");
    for (int32_t inner : obj.inside) list_.push_back(&w.objects[static_cast<size_t>(inner)].name);
    AppendList("a ", out);
    *out += '.';
    return;
  }
  // alfred.twl2's examineObject.feedback rules, first match wins.
  const bool clean = c & kClean, hot = c & kHot, cool = c & kCool, sliced = c & kSliced;
  std::string_view pre, post = ".";
  if (clean && hot && sliced) {
    pre = "This is a hot and clean sliced ";
  } else if (clean && cool && sliced) {
    pre = "This is a cool and clean sliced ";
  } else if (clean && sliced) {
    pre = "This is a clean sliced ";
  } else if (hot && sliced) {
    pre = "This is a hot sliced ";
  } else if (cool && sliced) {
    pre = "This is a cool sliced ";
  } else if (clean && hot) {
    pre = "This is a hot and clean ";
  } else if (clean && cool) {
    pre = "This is a cool and clean ";
  } else if (hot) {
    pre = "This is a hot ";
  } else if (clean) {
    pre = "This is a clean ";
  } else if (cool) {
    pre = "This is a cold ";
  } else if ((obj.traits & kToggleable) && (c & kToggled)) {
    pre = "This ";
    post = " is on.";
  } else if ((obj.traits & kSliceable) && sliced) {
    pre = "This is a sliced ";
  } else {
    pre = "There's nothing special about ";
  }
  Say(out, pre, obj.name, post);
}

void Engine::Format(const Command& c, std::string* out) const {
  const World& w = *world_;
  auto on = [&](int32_t o) -> const std::string& { return w.objects[static_cast<size_t>(o)].name; };
  auto rn = [&](int32_t r) -> const std::string& {
    return w.receptacles[static_cast<size_t>(r)].name;
  };
  out->clear();
  switch (c.verb) {
    case Verb::kLook: Say(out, "look"); break;
    case Verb::kInventory: Say(out, "inventory"); break;
    case Verb::kHelp: Say(out, "help"); break;
    case Verb::kGoTo: Say(out, "go to ", rn(c.a)); break;
    case Verb::kOpen: Say(out, "open ", rn(c.a)); break;
    case Verb::kClose: Say(out, "close ", rn(c.a)); break;
    case Verb::kTake: Say(out, "take ", on(c.a), " from ", rn(c.b)); break;
    case Verb::kPut:
      if (grammar_ == Grammar::kV04) {
        Say(out, "move ", on(c.a), " to ", rn(c.b));
      } else {
        Say(out, "put ", on(c.a), " in/on ", rn(c.b));
      }
      break;
    case Verb::kHeat: Say(out, "heat ", on(c.a), " with ", rn(c.b)); break;
    case Verb::kCool: Say(out, "cool ", on(c.a), " with ", rn(c.b)); break;
    case Verb::kClean: Say(out, "clean ", on(c.a), " with ", rn(c.b)); break;
    case Verb::kUse: Say(out, "use ", on(c.a)); break;
    case Verb::kSlice: Say(out, "slice ", on(c.a), " with ", on(c.b)); break;
    case Verb::kExamineReceptacle: Say(out, "examine ", rn(c.a)); break;
    case Verb::kExamineObject: Say(out, "examine ", on(c.a)); break;
  }
}

void Engine::AddDynamic(const Command& cmd) {
  if (!Applicable(cmd)) return;
  if (dynamic_count_ == dynamic_.size()) dynamic_.emplace_back();
  Format(cmd, &dynamic_[dynamic_count_++]);
}

std::span<const std::string> Engine::AdmissibleCommands() {
  const World& w = *world_;
  const State& s = state_;
  const auto O = static_cast<int32_t>(w.objects.size());
  dynamic_count_ = 0;
  const std::vector<int32_t>& here = w.locations[static_cast<size_t>(s.agent_location)].receptacles;
  for (int32_t r : here) {
    for (Verb v : {Verb::kOpen, Verb::kClose, Verb::kExamineReceptacle}) AddDynamic({v, r});
    for (int32_t o = 0; o < O; ++o) {
      if (!w.InReceptacle(s, o, r)) continue;
      AddDynamic({Verb::kTake, o, r});
      AddDynamic({Verb::kExamineObject, o});
      AddDynamic({Verb::kUse, o});
    }
    if (s.held != kNone) {
      for (Verb v : {Verb::kPut, Verb::kHeat, Verb::kCool, Verb::kClean})
        AddDynamic({v, s.held, r});
    }
  }
  if (s.held != kNone) {
    AddDynamic({Verb::kExamineObject, s.held});
    for (int32_t o = 0; o < O; ++o) {
      if (s.object_location[static_cast<size_t>(o)] == s.agent_location) {
        AddDynamic({Verb::kSlice, o, s.held});
      }
    }
  }
  auto dyn_begin = dynamic_.begin();
  auto dyn_end = dyn_begin + static_cast<std::ptrdiff_t>(dynamic_count_);
  std::sort(dyn_begin, dyn_end);

  // Merge the two sorted lists, dropping duplicates (the same object examined in two
  // receptacles) and the go-tos of where the agent stands. Assigning into the pooled strings
  // keeps their buffers, so a warm engine allocates nothing here.
  admissible_count_ = 0;
  auto emit = [&](const std::string& text) {
    if (admissible_count_ > 0 && admissible_[admissible_count_ - 1] == text) return;
    if (admissible_count_ == admissible_.size()) admissible_.emplace_back();
    admissible_[admissible_count_++].assign(text);
  };
  auto dyn = dyn_begin;
  for (const StaticCommand& sc : static_commands_) {
    if (sc.location != kNone && sc.location == s.agent_location) continue;
    for (; dyn != dyn_end && *dyn < sc.text; ++dyn) emit(*dyn);
    emit(sc.text);
  }
  for (; dyn != dyn_end; ++dyn) emit(*dyn);
  return {admissible_.data(), admissible_count_};
}

}  // namespace rock::alfworld
