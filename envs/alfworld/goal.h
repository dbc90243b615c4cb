// A problem's :goal compiled against its World, so that checking it after a step is a few
// table lookups: variables become slots, constants become indices, and each quantified
// variable only ranges over the entities that the static facts of its conjunction allow
// (e.g. ?o over the objects of type PotatoType), which makes ALFWorld's goals cheap to test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "envs/alfworld/pddl/pddl.h"
#include "envs/alfworld/predicates.h"
#include "envs/alfworld/world.h"

namespace rock::alfworld {

class Goal {
 public:
  // InvalidArgument naming the problem for unknown variable types, unbound variables, wrong
  // arities, or more than kMaxVariables quantified variables.
  static StatusOr<Goal> Compile(const pddl::Formula& formula, const World& world);

  // Whether the goal holds in `state`. Allocation-free; safe to call from many threads.
  bool Evaluate(const World& world, const State& state) const;

  // Whether the goal mentions any predicate of `preds` (a mask of Bit(Pred)): a step that
  // changes none of them cannot change the goal's truth, so the engine skips the evaluation.
  bool MentionsAny(uint64_t preds) const { return (mentioned_ & preds) != 0; }

  static constexpr int kMaxVariables = 16;

  // One compiled (sub)formula; public only so the compiler's helpers can build it.
  struct Arg {
    bool is_var = false;
    Kind kind = Kind::kObject;
    int32_t value = kNone;  // variable slot, or entity index within `kind`'s table
  };
  struct Node {
    enum class Op : uint8_t {
      kTrue,
      kFalse,
      kAtom,
      kOther,
      kEquals,
      kAnd,
      kOr,
      kNot,
      kImply,
      kExists,
      kForall
    };
    Op op = Op::kTrue;
    Pred pred = Pred::kOther;
    int arity = 0;  // kAtom
    Arg args[2];
    std::string other_predicate;  // kOther
    std::vector<Arg> other_args;  // kOther
    int32_t var = kNone;          // kExists / kForall: the slot bound
    std::vector<int32_t> domain;  // kExists / kForall: candidate entity indices
    std::vector<Node> children;
  };

 private:
  Node root_;
  uint64_t mentioned_ = 0;  // bit per Pred
};

}  // namespace rock::alfworld
