#include "envs/alfworld/pddl/pddl.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace rock::alfworld::pddl {
namespace {

std::string ReadFixture(const std::string& relative) {
  std::ifstream in(std::string(ROCK_PDDL_FIXTURES) + "/" + relative, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Expects `text` to be rejected with a message that contains each of `needles`.
void ExpectRejected(std::string_view text, std::initializer_list<std::string_view> needles) {
  StatusOr<Problem> problem = ParseProblem(text);
  ASSERT_FALSE(problem.ok()) << "accepted: " << text;
  EXPECT_EQ(problem.status().code(), Code::kInvalidArgument);
  for (std::string_view needle : needles) {
    EXPECT_NE(problem.status().message().find(needle), std::string::npos)
        << "message '" << problem.status().message() << "' lacks '" << needle << "'";
  }
}

TEST(PddlProblem, RealAlfworldSampleParsesWithAllObjectsAtomsAndGoal) {
  StatusOr<Problem> problem = ParseProblem(ReadFixture("real/trial_T20190908_231731_054988/initial_state.pddl"));
  ASSERT_TRUE(problem.ok()) << problem.status().ToString();
  EXPECT_EQ(problem->name, "plan_trial_T20190908_231731_054988");
  EXPECT_EQ(problem->domain, "alfred");

  // 3 agents, 79 object classes, 79 otypes, 30 rtypes, 54 objects, 20 receptacles, 24 locations.
  std::map<std::string, int> per_type;
  for (const TypedName& object : problem->objects) ++per_type[object.type];
  EXPECT_EQ(per_type["agent"], 3);
  EXPECT_EQ(per_type["receptacle"], 20);
  EXPECT_EQ(per_type["location"], 24);
  EXPECT_EQ(per_type["otype"], 79);
  EXPECT_EQ(per_type["rtype"], 30);
  EXPECT_EQ(per_type["object"], 79 + 54);
  EXPECT_EQ(problem->objects.size(), 289u);
  EXPECT_EQ(problem->objects.front().name, "alice");
  EXPECT_EQ(problem->objects[191].name, "Apple_bar__plus_01_dot_59_bar__plus_00_dot_97_bar__minus_01_dot_29")
      << "mangled ids are kept exactly";

  ASSERT_EQ(problem->init.size(), 534u);
  std::map<std::string, int> per_predicate;
  for (const Atom& atom : problem->init) ++per_predicate[atom.predicate];
  EXPECT_EQ(per_predicate["canContain"], 188);
  EXPECT_EQ(per_predicate["inReceptacle"], 44);
  EXPECT_EQ(per_predicate["objectAtLocation"], 53);
  EXPECT_EQ(per_predicate["atLocation"], 3);
  EXPECT_EQ(problem->init.front().predicate, "receptacleType");
  EXPECT_EQ(problem->init.front().args,
            (std::vector<std::string>{"StoveBurner_bar__plus_01_dot_55_bar__plus_00_dot_91_bar__plus_00_dot_08",
                                      "StoveBurnerType"}));

  // (and (exists (?r - receptacle) (exists (?o - object) (and 5 atoms))))
  const Formula& goal = problem->goal;
  ASSERT_EQ(goal.kind, Formula::Kind::kAnd);
  ASSERT_EQ(goal.children.size(), 1u);
  const Formula& exists_r = goal.children[0];
  ASSERT_EQ(exists_r.kind, Formula::Kind::kExists);
  ASSERT_EQ(exists_r.vars.size(), 1u);
  EXPECT_EQ(exists_r.vars[0].name, "?r");
  EXPECT_EQ(exists_r.vars[0].type, "receptacle");
  ASSERT_EQ(exists_r.children.size(), 1u);
  const Formula& exists_o = exists_r.children[0];
  ASSERT_EQ(exists_o.kind, Formula::Kind::kExists);
  EXPECT_EQ(exists_o.vars[0].name, "?o");
  EXPECT_EQ(exists_o.vars[0].type, "object");
  const Formula& body = exists_o.children.at(0);
  ASSERT_EQ(body.kind, Formula::Kind::kAnd);
  ASSERT_EQ(body.children.size(), 5u);
  EXPECT_EQ(body.children[1].kind, Formula::Kind::kAtom);
  EXPECT_EQ(body.children[1].atom.predicate, "objectType");
  EXPECT_EQ(body.children[1].atom.args, (std::vector<std::string>{"?o", "PotatoType"}));
  EXPECT_EQ(body.children[4].atom.predicate, "inReceptacle");
}

TEST(PddlProblem, TypedListsGiveEachNameItsTypeAndUntypedNamesObject) {
  StatusOr<Problem> problem = ParseProblem(R"(
    (define (problem p) (:domain d)
      (:objects a b - agent c - location d e)
      (:init) (:goal (and)))
  )");
  ASSERT_TRUE(problem.ok()) << problem.status().ToString();
  ASSERT_EQ(problem->objects.size(), 5u);
  const std::pair<const char*, const char*> expected[] = {
      {"a", "agent"}, {"b", "agent"}, {"c", "location"}, {"d", "object"}, {"e", "object"}};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(problem->objects[i].name, expected[i].first);
    EXPECT_EQ(problem->objects[i].type, expected[i].second);
  }
}

TEST(PddlProblem, NumericFluentsAndRequirementsAreSkippedAndCommentsIgnored) {
  StatusOr<Problem> problem = ParseProblem(R"(; header comment
    (define (problem p) ; trailing comment (with a paren
      (:domain d) (:requirements :typing :action-costs)
      (:init (= (total-cost) 0) (on a b) (= (distance a (b)) 3) (clear a))
      (:goal (on a b))
      (:metric minimize (total-cost)))
  )");
  ASSERT_TRUE(problem.ok()) << problem.status().ToString();
  ASSERT_EQ(problem->init.size(), 2u);
  EXPECT_EQ(problem->init[0].predicate, "on");
  EXPECT_EQ(problem->init[1].predicate, "clear");
  EXPECT_EQ(problem->goal.kind, Formula::Kind::kAtom);
}

TEST(PddlProblem, GoalConnectivesBuildTheirTrees) {
  StatusOr<Problem> problem = ParseProblem(R"(
    (define (problem p) (:domain d) (:init)
      (:goal (AND (or (p) (not (q ?x)))
                  (imply (r a) (= ?x ?y))
                  (forall (?x ?y - object, ?z - location) (s ?x ?z))
                  ())))
  )");
  ASSERT_TRUE(problem.ok()) << problem.status().ToString();
  const Formula& goal = problem->goal;
  ASSERT_EQ(goal.kind, Formula::Kind::kAnd) << "keywords are case-insensitive";
  ASSERT_EQ(goal.children.size(), 4u);

  const Formula& disjunction = goal.children[0];
  EXPECT_EQ(disjunction.kind, Formula::Kind::kOr);
  ASSERT_EQ(disjunction.children.size(), 2u);
  EXPECT_EQ(disjunction.children[0].atom.predicate, "p");
  EXPECT_TRUE(disjunction.children[0].atom.args.empty());
  ASSERT_EQ(disjunction.children[1].kind, Formula::Kind::kNot);
  EXPECT_EQ(disjunction.children[1].children.at(0).atom.args, std::vector<std::string>{"?x"});

  const Formula& implication = goal.children[1];
  EXPECT_EQ(implication.kind, Formula::Kind::kImply);
  ASSERT_EQ(implication.children.size(), 2u);
  EXPECT_EQ(implication.children[1].kind, Formula::Kind::kEquals);
  EXPECT_EQ(implication.children[1].atom.args, (std::vector<std::string>{"?x", "?y"}));

  const Formula& forall = goal.children[2];
  EXPECT_EQ(forall.kind, Formula::Kind::kForall);
  ASSERT_EQ(forall.vars.size(), 3u) << "',' separates like the alfred domain writes it";
  EXPECT_EQ(forall.vars[1].name, "?y");
  EXPECT_EQ(forall.vars[1].type, "object");
  EXPECT_EQ(forall.vars[2].type, "location");

  const Formula& empty = goal.children[3];
  EXPECT_EQ(empty.kind, Formula::Kind::kAnd);
  EXPECT_TRUE(empty.children.empty()) << "() is the empty conjunction";
}

TEST(PddlProblem, NamesKeepTheirCase) {
  StatusOr<Problem> problem =
      ParseProblem("(define (problem P) (:domain Alfred) (:objects Foo - Bar) (:init (Is Foo)) (:goal (Is Foo)))");
  ASSERT_TRUE(problem.ok()) << problem.status().ToString();
  EXPECT_EQ(problem->name, "P");
  EXPECT_EQ(problem->domain, "Alfred");
  EXPECT_EQ(problem->objects[0].name, "Foo");
  EXPECT_EQ(problem->objects[0].type, "Bar");
  EXPECT_EQ(problem->init[0].predicate, "Is");
}

TEST(PddlProblem, UnbalancedAndTruncatedInputIsRejectedWithTheLine) {
  ExpectRejected("", {"line 1", "expected '('", "end of input"});
  ExpectRejected("(define (problem p)\n(:domain d)\n(:init (a b)\n", {"line 4", "end of input"});
  ExpectRejected("(define (problem p) (:domain d) (:init) (:goal (and)))\n)", {"line 2", "end of input after the problem", "')'"});
  ExpectRejected("(define (problem p) (:domain d) (:init) (:goal (and (p)))", {"line 1", "end of input"});
}

TEST(PddlProblem, StructuralMistakesAreNamed) {
  ExpectRejected("(define (domain p))", {"expected 'problem'", "'domain'"});
  ExpectRejected("(define (problem p) (:init) (:goal (and)))", {"(:domain ...) section"});
  ExpectRejected("(define (problem p) (:domain d) (:goal (and)))", {"(:init ...) section"});
  ExpectRejected("(define (problem p) (:domain d) (:init))", {"(:goal ...) section"});
  ExpectRejected("(define (problem p) (:domain d) (:init) (:init) (:goal (and)))", {"duplicate :init"});
  ExpectRejected("(define (problem p) (:domain d) (:init) (:goal (and)) (:constraints))", {"problem section", "':constraints'"});
  ExpectRejected("(define (problem p) (:domain d)\n(:objects a - )\n(:init) (:goal (and)))", {"line 2", "a type name after '-'"});
  ExpectRejected("(define (problem p) (:domain d) (:objects - t) (:init) (:goal (and)))", {"a name before '- type'"});
  ExpectRejected("(define (problem p) (:domain d) (:objects ?a) (:init) (:goal (and)))", {"an object name (not ?name)"});
  ExpectRejected("(define (problem p) (:domain d) (:init (on ?x b)) (:goal (and)))", {"an object name", "'?x'"});
  ExpectRejected("(define (problem p) (:domain d) (:init (not (on a b))) (:goal (and)))", {":init holds positive ground atoms"});
  ExpectRejected("(define (problem p) (:domain d) (:init (on (a) b)) (:goal (and)))", {"an object name or ')'", "'('"});
  ExpectRejected("(define (problem p) (:domain d) (:init) (:goal (not (p) (q))))", {"')' after the negated formula"});
  ExpectRejected("(define (problem p) (:domain d) (:init) (:goal (imply (p))))", {"'(' to start a formula", "')'"});
  ExpectRejected("(define (problem p) (:domain d) (:init) (:goal (exists () (p))))", {"at least one quantified variable"});
  ExpectRejected("(define (problem p) (:domain d) (:init) (:goal (exists (x) (p))))", {"a variable (?name)", "'x'"});
  ExpectRejected("(define (problem p) (:domain d) (:init) (:goal (= ?x)))", {"'=' needs exactly 2 arguments, got 1"});
  ExpectRejected("(define (problem p) (:domain d) (:init) (:goal ((p))))", {"a predicate or connective", "'('"});
}

TEST(PddlProblem, HostileNestingIsRejectedInsteadOfOverflowingTheStack) {
  std::string deep = "(define (problem p) (:domain d) (:init) (:goal ";
  for (int i = 0; i < 200000; ++i) deep += "(not ";
  ExpectRejected(deep, {"nested deeper than 64 levels"});

  std::string ok = "(define (problem p) (:domain d) (:init) (:goal ";
  for (int i = 0; i < 63; ++i) ok += "(not ";
  ok += "(p)";
  for (int i = 0; i < 63; ++i) ok += ")";
  ok += "))";
  EXPECT_TRUE(ParseProblem(ok).ok()) << "63 levels below the goal are within the limit";

  // Nesting in skipped parts costs nothing and is accepted.
  std::string fluent = "(define (problem p) (:domain d) (:init (= ";
  for (int i = 0; i < 200000; ++i) fluent += "(f ";
  for (int i = 0; i < 200000; ++i) fluent += ")";
  fluent += " 1)) (:goal (and)))";
  EXPECT_TRUE(ParseProblem(fluent).ok());
}

TEST(PddlProblem, BinaryGarbageIsDescribedPrintably) {
  std::string garbage = "(define (problem p) (:domain d) (:init) (:goal \x01\xff";
  garbage += std::string(100, 'x');
  garbage += "))";
  ExpectRejected(garbage, {"'(' to start a formula", "'\\x01\\xffxxx", "...'"});
}

TEST(PddlDomain, RealAlfredDomainNameIsRead) {
  StatusOr<std::string> name = ParseDomainName(ReadFixture("real/alfred.pddl"));
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(*name, "alfred");
}

TEST(PddlDomain, MalformedDomainsAreRejected) {
  for (const auto& [text, needle] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"(define (problem alfred))", "expected 'domain'"},
           {"(define (domain alfred) (:types a)", "')' to close the list"},
           {"(define (domain) )", "the domain name"},
           {"(define (domain alfred)) extra", "end of input after the domain"},
       }) {
    StatusOr<std::string> name = ParseDomainName(text);
    ASSERT_FALSE(name.ok()) << text;
    EXPECT_NE(name.status().message().find(needle), std::string::npos) << name.status().message();
  }
}

}  // namespace
}  // namespace rock::alfworld::pddl
