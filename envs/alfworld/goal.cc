#include "envs/alfworld/goal.h"

#include <algorithm>
#include <array>

#include "envs/alfworld/names.h"

namespace rock::alfworld {
namespace {

using Node = Goal::Node;
using Arg = Goal::Arg;
using Op = Node::Op;
using Bindings = std::array<int32_t, Goal::kMaxVariables>;

size_t CountOf(const World& w, Kind kind) {
  switch (kind) {
    case Kind::kAgent:
      return w.agents.size();
    case Kind::kLocation:
      return w.locations.size();
    case Kind::kReceptacle:
      return w.receptacles.size();
    case Kind::kObject:
      return w.objects.size();
    case Kind::kType:
      return w.types.size();
  }
  return 0;
}

const std::string& IdOf(const World& w, Kind kind, int32_t i) {
  const auto u = static_cast<size_t>(i);
  switch (kind) {
    case Kind::kAgent:
      return w.agents[u];
    case Kind::kLocation:
      return w.locations[u].id;
    case Kind::kReceptacle:
      return w.receptacles[u].id;
    case Kind::kObject:
      return w.objects[u].id;
    case Kind::kType:
      return w.types[u];
  }
  return w.types[u];
}

int32_t FindId(const World& w, Kind kind, const std::string& id) {
  switch (kind) {
    case Kind::kAgent:
      return w.FindAgent(id);
    case Kind::kLocation:
      return w.FindLocation(id);
    case Kind::kType:
      return w.FindType(id);
    case Kind::kReceptacle:
    case Kind::kObject:
      for (size_t i = 0; i < CountOf(w, kind); ++i) {
        if (IdOf(w, kind, static_cast<int32_t>(i)) == id) return static_cast<int32_t>(i);
      }
      return kNone;
  }
  return kNone;
}

bool IsStatic(Pred pred) {
  switch (pred) {
    case Pred::kReceptacleAtLocation:
    case Pred::kOpenable:
    case Pred::kIsReceptacleObject:
    case Pred::kInReceptacleObject:
    case Pred::kReceptacleType:
    case Pred::kObjectType:
    case Pred::kCanContain:
    case Pred::kCleanable:
    case Pred::kHeatable:
    case Pred::kCoolable:
    case Pred::kPickupable:
    case Pred::kMoveable:
    case Pred::kToggleable:
    case Pred::kSliceable:
      return true;
    default:
      return false;
  }
}

struct Var {
  std::string name;
  int32_t slot;
  Kind kind;
};

class Compiler {
 public:
  explicit Compiler(const World& w) : w_(w) {}

  StatusOr<Node> Compile(const pddl::Formula& f) {
    using K = pddl::Formula::Kind;
    Node node;
    switch (f.kind) {
      case K::kAtom:
        return CompileAtom(f.atom);
      case K::kEquals: {
        if (f.atom.args.size() != 2) return InvalidArgument("(= ...) needs 2 arguments");
        node.op = Op::kEquals;
        for (int i = 0; i < 2; ++i) {
          StatusOr<Arg> arg = ResolveAny(f.atom.args[static_cast<size_t>(i)]);
          if (!arg.ok()) return arg.status();
          if (arg->value == kNone) return Node{Op::kFalse};
          node.args[i] = *arg;
        }
        return node;
      }
      case K::kAnd:
        node.op = Op::kAnd;
        break;
      case K::kOr:
        node.op = Op::kOr;
        break;
      case K::kNot:
        node.op = Op::kNot;
        break;
      case K::kImply:
        node.op = Op::kImply;
        break;
      case K::kExists:
      case K::kForall:
        return CompileQuantifier(f, 0);
    }
    size_t want = node.op == Op::kNot ? 1 : node.op == Op::kImply ? 2 : f.children.size();
    if (f.children.size() != want) {
      return InvalidArgument("goal connective has " + std::to_string(f.children.size()) +
                             " operand(s), expected " + std::to_string(want));
    }
    for (const pddl::Formula& child : f.children) {
      StatusOr<Node> c = Compile(child);
      if (!c.ok()) return c.status();
      node.children.push_back(std::move(*c));
    }
    return node;
  }

 private:
  // One quantified variable per node; a quantifier over several variables nests.
  StatusOr<Node> CompileQuantifier(const pddl::Formula& f, size_t first) {
    if (f.children.size() != 1) return InvalidArgument("quantifier needs exactly one body");
    if (first == f.vars.size()) return Compile(f.children[0]);
    const pddl::TypedName& v = f.vars[first];
    Kind kind;
    if (!KindOfType(ToLower(v.type), &kind)) {
      return InvalidArgument("goal variable " + v.name + " has unknown type '" + v.type + "'");
    }
    if (static_cast<int>(scope_.size()) >= Goal::kMaxVariables) {
      return InvalidArgument("goal has more than " + std::to_string(Goal::kMaxVariables) +
                             " quantified variables");
    }
    Node node;
    node.op = f.kind == pddl::Formula::Kind::kExists ? Op::kExists : Op::kForall;
    node.var = static_cast<int32_t>(scope_.size());
    scope_.push_back({ToLower(v.name), node.var, kind});
    StatusOr<Node> body = CompileQuantifier(f, first + 1);
    scope_.pop_back();
    if (!body.ok()) return body.status();
    node.children.push_back(std::move(*body));
    for (size_t i = 0; i < CountOf(w_, kind); ++i) node.domain.push_back(static_cast<int32_t>(i));
    if (node.op == Op::kExists) PruneDomain(node.var, &node.domain, &node.children[0]);
    return node;
  }

  // Static atoms of the conjunction under an existential that constrain only its variable
  // filter the variable's domain once, here, and become kTrue.
  void PruneDomain(int32_t var, std::vector<int32_t>* domain, Node* body) {
    if (body->op == Op::kAnd || body->op == Op::kExists) {
      for (Node& child : body->children) PruneDomain(var, domain, &child);
      return;
    }
    if (body->op != Op::kAtom || !IsStatic(body->pred)) return;
    bool mentions = false;
    for (int i = 0; i < body->arity; ++i) {
      if (body->args[i].is_var) {
        if (body->args[i].value != var) return;  // constrains another variable too
        mentions = true;
      }
    }
    if (!mentions) return;
    std::erase_if(*domain, [&](int32_t candidate) {
      int32_t a[2];
      for (int i = 0; i < 2; ++i) a[i] = body->args[i].is_var ? candidate : body->args[i].value;
      return !Holds(w_, w_.initial, body->pred, a[0], a[1]);
    });
    body->op = Op::kTrue;
  }

  StatusOr<Arg> ResolveVar(const std::string& name) {
    std::string lower = ToLower(name);
    for (auto it = scope_.rbegin(); it != scope_.rend(); ++it) {
      if (it->name == lower) return Arg{true, it->kind, it->slot};
    }
    return InvalidArgument("goal variable " + name + " is not bound by a quantifier");
  }

  // A constant of unknown kind (for '='): the first table that has it.
  StatusOr<Arg> ResolveAny(const std::string& name) {
    if (!name.empty() && name[0] == '?') return ResolveVar(name);
    std::string id = ToLower(name);
    for (Kind kind :
         {Kind::kObject, Kind::kReceptacle, Kind::kLocation, Kind::kAgent, Kind::kType}) {
      int32_t i = FindId(w_, kind, id);
      if (i != kNone) return Arg{false, kind, i};
    }
    return Arg{false, Kind::kObject, kNone};
  }

  StatusOr<Node> CompileAtom(const pddl::Atom& atom) {
    PredSignature sig = SignatureOf(atom.predicate);
    mentioned_ |= Bit(sig.pred);
    Node node;
    if (sig.pred == Pred::kOther) {
      node.op = Op::kOther;
      node.other_predicate = ToLower(atom.predicate);
      for (const std::string& a : atom.args) {
        StatusOr<Arg> arg = ResolveAny(a);
        if (!arg.ok()) return arg.status();
        if (arg->value == kNone) return Node{Op::kFalse};  // an entity no fact mentions
        node.other_args.push_back(*arg);
      }
      return node;
    }
    if (static_cast<int>(atom.args.size()) != sig.arity) {
      return InvalidArgument("goal atom (" + atom.predicate + " ...) has " +
                             std::to_string(atom.args.size()) + " argument(s), expected " +
                             std::to_string(sig.arity));
    }
    node.op = Op::kAtom;
    node.pred = sig.pred;
    node.arity = sig.arity;
    for (int i = 0; i < sig.arity; ++i) {
      const std::string& a = atom.args[static_cast<size_t>(i)];
      Kind want = sig.args[i];
      if (!a.empty() && a[0] == '?') {
        StatusOr<Arg> arg = ResolveVar(a);
        if (!arg.ok()) return arg.status();
        if (arg->kind != want) return Node{Op::kFalse};  // no binding of that type fits
        node.args[i] = *arg;
      } else {
        int32_t idx = FindId(w_, want, ToLower(a));
        if (idx == kNone) return Node{Op::kFalse};
        node.args[i] = Arg{false, want, idx};
      }
    }
    return node;
  }

  const World& w_;
  std::vector<Var> scope_;
  uint64_t mentioned_ = 0;

 public:
  uint64_t mentioned() const { return mentioned_; }
};

int32_t Value(const Arg& arg, const Bindings& b) {
  return arg.is_var ? b[static_cast<size_t>(arg.value)] : arg.value;
}

bool Eval(const Node& n, const World& w, const State& s, Bindings& b) {
  switch (n.op) {
    case Op::kTrue:
      return true;
    case Op::kFalse:
      return false;
    case Op::kAtom:
      return Holds(w, s, n.pred, Value(n.args[0], b), Value(n.args[1], b));
    case Op::kEquals:
      return n.args[0].kind == n.args[1].kind && Value(n.args[0], b) == Value(n.args[1], b);
    case Op::kOther:
      return std::any_of(w.other_facts.begin(), w.other_facts.end(), [&](const OtherFact& f) {
        if (f.predicate != n.other_predicate || f.args.size() != n.other_args.size()) return false;
        for (size_t i = 0; i < f.args.size(); ++i) {
          if (f.args[i] != IdOf(w, n.other_args[i].kind, Value(n.other_args[i], b))) return false;
        }
        return true;
      });
    case Op::kAnd:
      for (const Node& c : n.children) {
        if (!Eval(c, w, s, b)) return false;
      }
      return true;
    case Op::kOr:
      for (const Node& c : n.children) {
        if (Eval(c, w, s, b)) return true;
      }
      return false;
    case Op::kNot:
      return !Eval(n.children[0], w, s, b);
    case Op::kImply:
      return !Eval(n.children[0], w, s, b) || Eval(n.children[1], w, s, b);
    case Op::kExists:
      for (int32_t v : n.domain) {
        b[static_cast<size_t>(n.var)] = v;
        if (Eval(n.children[0], w, s, b)) return true;
      }
      return false;
    case Op::kForall:
      for (int32_t v : n.domain) {
        b[static_cast<size_t>(n.var)] = v;
        if (!Eval(n.children[0], w, s, b)) return false;
      }
      return true;
  }
  return false;
}

}  // namespace

StatusOr<Goal> Goal::Compile(const pddl::Formula& formula, const World& world) {
  Compiler compiler(world);
  StatusOr<Node> root = compiler.Compile(formula);
  if (!root.ok()) return root.status().WithContext("goal");
  Goal goal;
  goal.root_ = std::move(*root);
  goal.mentioned_ = compiler.mentioned();
  return goal;
}

bool Goal::Evaluate(const World& world, const State& state) const {
  Bindings bindings{};
  return Eval(root_, world, state, bindings);
}

}  // namespace rock::alfworld
