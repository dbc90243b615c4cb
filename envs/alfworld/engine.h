// Plays one Game the way TextWorld-ALFWorld does: a command is trimmed and must then equal one of
// the admissible commands exactly, else "Nothing happens."; feedback texts are those of
// alfred.twl2. Not thread-safe (one Engine per episode); Step does not allocate once the
// observation buffer has grown to its working size.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "envs/alfworld/game.h"
#include "envs/alfworld/world.h"

namespace rock::alfworld {

// ALFWorld 0.4 says "move {o} to {r}" and "You arrive at {r}."; 0.3 and earlier said
// "put {o} in/on {r}" and "You arrive at loc N.".
enum class Grammar { kV03, kV04 };

class Engine {
 public:
  explicit Engine(std::shared_ptr<const Game> game, Grammar grammar = Grammar::kV04);

  // Starts over from the game's initial state; returns the intro text.
  const std::string& Reset();

  struct Outcome {
    bool valid = false;  // the command was admissible (and changed or showed something)
    bool won = false;    // the goal holds after it
  };
  Outcome Step(std::string_view command);

  const std::string& observation() const { return observation_; }
  bool won() const { return won_; }

  // Every admissible command in the current state, sorted as plain strings, without
  // duplicates. Computed on demand; valid until the next Step or Reset.
  std::span<const std::string> AdmissibleCommands();

  const Game& game() const { return *game_; }
  const World& world() const { return *game_->world; }
  const State& state() const { return state_; }
  Grammar grammar() const { return grammar_; }

 private:
  enum class Verb : uint8_t {
    kLook,
    kInventory,
    kHelp,
    kGoTo,
    kOpen,
    kClose,
    kTake,
    kPut,
    kHeat,
    kCool,
    kClean,
    kUse,
    kSlice,
    kExamineReceptacle,
    kExamineObject
  };
  struct Command {
    Verb verb;
    int32_t a = kNone;  // receptacle for go/open/close/examine-r, else the object
    int32_t b = kNone;  // receptacle (take/put/heat/cool/clean) or the knife (slice)
  };

  bool Parse(std::string_view text, Command* cmd) const;
  bool Applicable(const Command& cmd) const;
  void Apply(const Command& cmd);
  void Format(const Command& cmd, std::string* out) const;
  void AddDynamic(const Command& cmd);

  bool AtAgent(int32_t receptacle) const;
  void AppendLook(std::string* out);
  void AppendReceptacleView(int32_t r, std::string* out);
  void AppendExamineObject(int32_t o, std::string* out);
  void AppendList(std::string_view article, std::string* out);

  std::shared_ptr<const Game> game_;
  const World* world_;
  Grammar grammar_;
  State state_;
  bool won_ = false;
  std::string observation_;
  std::vector<const std::string*> list_;  // names queued for AppendList

  // Commands that exist in every state, sorted: "go to r" (offered unless r stands where the
  // agent is; `location` says where) and "help", "inventory", "look" (location kNone).
  struct StaticCommand {
    std::string text;
    int32_t location = kNone;
  };
  std::vector<StaticCommand> static_commands_;
  // The state-dependent commands, then the merged list; both reuse their string buffers. Only
  // the first *_count_ entries are live.
  std::vector<std::string> dynamic_, admissible_;
  size_t dynamic_count_ = 0, admissible_count_ = 0;
};

}  // namespace rock::alfworld
