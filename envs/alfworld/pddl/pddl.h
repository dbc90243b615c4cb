// The PDDL subset ALFWorld writes: problems (objects, a ground :init, a :goal formula) and the
// alfred domain's header. Parsing is total: any input gives a Problem or an InvalidArgument
// Status naming the line and what was expected; nothing here throws or aborts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rock::alfworld::pddl {

// A name with its declared type: {"Apple_bar__plus_01_dot_59_...", "object"}, {"?r", "receptacle"}.
struct TypedName {
  std::string name;
  std::string type;
};

// (inReceptacle ?o ?r) or (openable Fridge_bar_...). Arguments starting with '?' are variables.
struct Atom {
  std::string predicate;
  std::vector<std::string> args;
};

struct Formula {
  enum class Kind { kAtom, kEquals, kAnd, kOr, kNot, kImply, kExists, kForall };
  Kind kind = Kind::kAnd;
  Atom atom;                      // kAtom; kEquals compares atom.args[0] and atom.args[1]
  std::vector<TypedName> vars;    // kExists, kForall
  std::vector<Formula> children;  // kAnd/kOr: any number; kNot: 1; kImply: 2; quantifiers: 1
};

struct Problem {
  std::string name;
  std::string domain;
  std::vector<TypedName> objects;
  std::vector<Atom> init;  // ground atoms, in file order; numeric fluents are not kept
  Formula goal;
};

StatusOr<Problem> ParseProblem(std::string_view text);

// The domain's name, e.g. "alfred", from "(define (domain alfred) ...)".
StatusOr<std::string> ParseDomainName(std::string_view text);

}  // namespace rock::alfworld::pddl
