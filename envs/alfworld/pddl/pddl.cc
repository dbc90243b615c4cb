#include "envs/alfworld/pddl/pddl.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <optional>
#include <utility>

namespace rock::alfworld::pddl {
namespace {

// ALFWorld's goals nest about eight levels deep; the bound only stops hostile input from
// exhausting the stack (ParseFormula recurses once per level, Formula's destructor too).
constexpr int kMaxFormulaDepth = 64;

struct Token {
  enum class Kind { kOpen, kClose, kName, kEnd };
  Kind kind = Kind::kEnd;
  std::string_view text;  // kName only; a view into the parsed text
  int line = 1;
};

bool IsSeparator(char c) {
  // ',' separates too: alfred.pddl writes typed lists as "(?l - location, ?r - receptacle)",
  // and no PDDL name may contain one.
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == ',';
}

// Splits PDDL text into parentheses and names, dropping whitespace and `;` comments and
// counting lines so that every error can say where it is.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  const Token& Peek() {
    if (!peeked_) peeked_ = Scan();
    return *peeked_;
  }

  Token Next() {
    Token token = Peek();
    peeked_.reset();
    return token;
  }

 private:
  Token Scan() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (IsSeparator(c)) {
        ++pos_;
      } else if (c == ';') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
    if (pos_ == text_.size()) return {Token::Kind::kEnd, {}, line_};
    char c = text_[pos_];
    if (c == '(' || c == ')') {
      ++pos_;
      return {c == '(' ? Token::Kind::kOpen : Token::Kind::kClose, {}, line_};
    }
    size_t start = pos_;
    while (pos_ < text_.size()) {
      c = text_[pos_];
      if (IsSeparator(c) || c == '(' || c == ')' || c == ';') break;
      ++pos_;
    }
    return {Token::Kind::kName, text_.substr(start, pos_ - start), line_};
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  std::optional<Token> peeked_;
};

// PDDL keywords are case-insensitive; names keep the case they have in the file.
bool IsKeyword(const Token& token, std::string_view keyword) {
  if (token.kind != Token::Kind::kName || token.text.size() != keyword.size()) return false;
  for (size_t i = 0; i < keyword.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(token.text[i])) != keyword[i]) return false;
  }
  return true;
}

bool IsVariable(std::string_view name) { return !name.empty() && name.front() == '?'; }

// How a token reads in an error message. Names are clipped and escaped because the input may
// be hostile or binary.
std::string Describe(const Token& token) {
  switch (token.kind) {
    case Token::Kind::kOpen: return "'('";
    case Token::Kind::kClose: return "')'";
    case Token::Kind::kEnd: return "end of input";
    case Token::Kind::kName: break;
  }
  constexpr size_t kMaxShown = 40;
  std::string out = "'";
  for (size_t i = 0; i < token.text.size() && i < kMaxShown; ++i) {
    auto c = static_cast<unsigned char>(token.text[i]);
    if (std::isprint(c) && c != '\'') {
      out += static_cast<char>(c);
    } else {
      std::array<char, 5> hex{};
      std::snprintf(hex.data(), hex.size(), "\\x%02x", c);
      out += hex.data();
    }
  }
  if (token.text.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

Status ErrorAt(const Token& got, std::string_view expected) {
  std::string message = "line " + std::to_string(got.line) + ": expected ";
  message += expected;
  message += ", got ";
  message += Describe(got);
  return InvalidArgument(std::move(message));
}

class Parser {
 public:
  explicit Parser(std::string_view text) : lex_(text) {}

  // (define (problem N) (:domain D) (:objects ...) (:init ...) (:goal ...)); the sections may
  // come in any order, :requirements and :metric are accepted and ignored.
  StatusOr<Problem> ParseProblem() {
    Problem problem;
    if (Status s = ExpectDefineHeader("problem", &problem.name); !s.ok()) return s;
    bool have_domain = false, have_objects = false, have_init = false, have_goal = false;
    while (lex_.Peek().kind != Token::Kind::kClose) {
      if (Status s = Expect(Token::Kind::kOpen, "'(' to open a problem section or ')' to end it");
          !s.ok()) {
        return s;
      }
      Token section = lex_.Next();
      Status s;
      if (IsKeyword(section, ":domain")) {
        s = ExpectOnce(&have_domain, section);
        if (s.ok()) s = ExpectName("the domain name", &problem.domain);
        if (s.ok()) s = Expect(Token::Kind::kClose, "')' after the domain name");
      } else if (IsKeyword(section, ":objects")) {
        s = ExpectOnce(&have_objects, section);
        if (s.ok()) s = ParseTypedList(/*variables=*/false, &problem.objects);
      } else if (IsKeyword(section, ":init")) {
        s = ExpectOnce(&have_init, section);
        if (s.ok()) s = ParseInit(&problem.init);
      } else if (IsKeyword(section, ":goal")) {
        s = ExpectOnce(&have_goal, section);
        if (s.ok()) s = ParseFormula(0, &problem.goal);
        if (s.ok()) s = Expect(Token::Kind::kClose, "')' after the goal formula");
      } else if (IsKeyword(section, ":requirements") || IsKeyword(section, ":metric")) {
        s = SkipToClose();
      } else {
        s = ErrorAt(section, "a problem section (:domain, :objects, :init, :goal)");
      }
      if (!s.ok()) return s;
    }
    Token close = lex_.Next();
    if (!have_domain) return ErrorAt(close, "a (:domain ...) section before the problem ends");
    if (!have_init) return ErrorAt(close, "an (:init ...) section before the problem ends");
    if (!have_goal) return ErrorAt(close, "a (:goal ...) section before the problem ends");
    if (Status s = Expect(Token::Kind::kEnd, "end of input after the problem"); !s.ok()) return s;
    return problem;
  }

  // (define (domain NAME) ...): only the name is kept, but the whole text must be balanced.
  StatusOr<std::string> ParseDomainName() {
    std::string name;
    if (Status s = ExpectDefineHeader("domain", &name); !s.ok()) return s;
    if (Status s = SkipToClose(); !s.ok()) return s;
    if (Status s = Expect(Token::Kind::kEnd, "end of input after the domain"); !s.ok()) return s;
    return name;
  }

 private:
  Status Expect(Token::Kind kind, std::string_view what) {
    Token token = lex_.Next();
    return token.kind == kind ? Status::Ok() : ErrorAt(token, what);
  }

  Status ExpectKeyword(std::string_view keyword) {
    Token token = lex_.Next();
    return IsKeyword(token, keyword) ? Status::Ok() : ErrorAt(token, "'" + std::string(keyword) + "'");
  }

  Status ExpectName(std::string_view what, std::string* out) {
    Token token = lex_.Next();
    if (token.kind != Token::Kind::kName) return ErrorAt(token, what);
    *out = std::string(token.text);
    return Status::Ok();
  }

  Status ExpectOnce(bool* seen, const Token& section) {
    if (*seen) {
      return InvalidArgument("line " + std::to_string(section.line) + ": duplicate " +
                             std::string(section.text) + " section");
    }
    *seen = true;
    return Status::Ok();
  }

  // "(define (<kind> NAME)"
  Status ExpectDefineHeader(std::string_view kind, std::string* name) {
    if (Status s = Expect(Token::Kind::kOpen, "'(' to start '(define'"); !s.ok()) return s;
    if (Status s = ExpectKeyword("define"); !s.ok()) return s;
    if (Status s = Expect(Token::Kind::kOpen, "'(' before '" + std::string(kind) + "'"); !s.ok()) {
      return s;
    }
    if (Status s = ExpectKeyword(kind); !s.ok()) return s;
    if (Status s = ExpectName("the " + std::string(kind) + " name", name); !s.ok()) return s;
    return Expect(Token::Kind::kClose, "')' after the " + std::string(kind) + " name");
  }

  // Consumes everything up to and including the ')' that closes the list whose '(' was already
  // read. A counter, not recursion, so nesting depth costs nothing.
  Status SkipToClose() {
    int open = 1;
    while (open > 0) {
      Token token = lex_.Next();
      if (token.kind == Token::Kind::kOpen) ++open;
      if (token.kind == Token::Kind::kClose) --open;
      if (token.kind == Token::Kind::kEnd) return ErrorAt(token, "')' to close the list");
    }
    return Status::Ok();
  }

  // "a b - type c - type2 d)": names before "- type" take that type, trailing ones "object".
  Status ParseTypedList(bool variables, std::vector<TypedName>* out) {
    size_t untyped = out->size();  // first entry still waiting for its type
    while (true) {
      Token token = lex_.Next();
      if (token.kind == Token::Kind::kClose) break;
      if (token.kind != Token::Kind::kName) {
        return ErrorAt(token, variables ? "a variable or ')'" : "an object name or ')'");
      }
      if (token.text == "-") {
        if (untyped == out->size()) return ErrorAt(token, "a name before '- type'");
        Token type = lex_.Next();
        if (type.kind != Token::Kind::kName || type.text == "-" || IsVariable(type.text)) {
          return ErrorAt(type, "a type name after '-'");
        }
        for (size_t i = untyped; i < out->size(); ++i) (*out)[i].type = std::string(type.text);
        untyped = out->size();
        continue;
      }
      if (IsVariable(token.text) != variables) {
        return ErrorAt(token, variables ? "a variable (?name)" : "an object name (not ?name)");
      }
      out->push_back({std::string(token.text), {}});
    }
    for (size_t i = untyped; i < out->size(); ++i) (*out)[i].type = "object";
    return Status::Ok();
  }

  // Ground atoms up to the ')' closing :init. Numeric fluents "(= (f ...) n)" are skipped.
  Status ParseInit(std::vector<Atom>* out) {
    while (true) {
      Token token = lex_.Next();
      if (token.kind == Token::Kind::kClose) return Status::Ok();
      if (token.kind != Token::Kind::kOpen) return ErrorAt(token, "'(' to start an :init atom or ')'");
      Token predicate = lex_.Next();
      if (IsKeyword(predicate, "=")) {
        if (Status s = SkipToClose(); !s.ok()) return s;
        continue;
      }
      if (predicate.kind != Token::Kind::kName || IsKeyword(predicate, "not")) {
        return ErrorAt(predicate, "a predicate name (:init holds positive ground atoms)");
      }
      Atom atom{std::string(predicate.text), {}};
      if (Status s = ParseArgs(/*ground=*/true, &atom); !s.ok()) return s;
      out->push_back(std::move(atom));
    }
  }

  // Arguments up to the atom's ')'.
  Status ParseArgs(bool ground, Atom* atom) {
    while (true) {
      Token token = lex_.Next();
      if (token.kind == Token::Kind::kClose) return Status::Ok();
      if (token.kind != Token::Kind::kName || (ground && IsVariable(token.text))) {
        return ErrorAt(token, ground ? "an object name or ')'" : "an argument or ')'");
      }
      atom->args.emplace_back(token.text);
    }
  }

  // One formula starting at '('; reads through its ')'. "()" is the empty conjunction (true).
  Status ParseFormula(int depth, Formula* out) {
    Token open = lex_.Next();
    if (open.kind != Token::Kind::kOpen) return ErrorAt(open, "'(' to start a formula");
    if (depth >= kMaxFormulaDepth) {
      return InvalidArgument("line " + std::to_string(open.line) + ": formula nested deeper than " +
                             std::to_string(kMaxFormulaDepth) + " levels");
    }
    Token head = lex_.Next();
    if (head.kind == Token::Kind::kClose) {
      *out = Formula{};
      return Status::Ok();
    }
    if (head.kind != Token::Kind::kName) return ErrorAt(head, "a predicate or connective");
    if (IsKeyword(head, "and") || IsKeyword(head, "or")) {
      out->kind = IsKeyword(head, "and") ? Formula::Kind::kAnd : Formula::Kind::kOr;
      while (lex_.Peek().kind != Token::Kind::kClose) {
        if (Status s = ParseChild(depth, out); !s.ok()) return s;
      }
      lex_.Next();
      return Status::Ok();
    }
    if (IsKeyword(head, "not") || IsKeyword(head, "imply")) {
      bool is_not = IsKeyword(head, "not");
      out->kind = is_not ? Formula::Kind::kNot : Formula::Kind::kImply;
      for (int i = 0; i < (is_not ? 1 : 2); ++i) {
        if (Status s = ParseChild(depth, out); !s.ok()) return s;
      }
      return Expect(Token::Kind::kClose, is_not ? "')' after the negated formula"
                                                : "')' after the two formulas of imply");
    }
    if (IsKeyword(head, "exists") || IsKeyword(head, "forall")) {
      out->kind = IsKeyword(head, "exists") ? Formula::Kind::kExists : Formula::Kind::kForall;
      if (Status s = Expect(Token::Kind::kOpen, "'(' to start the quantified variables"); !s.ok()) {
        return s;
      }
      Token first = lex_.Peek();
      if (Status s = ParseTypedList(/*variables=*/true, &out->vars); !s.ok()) return s;
      if (out->vars.empty()) return ErrorAt(first, "at least one quantified variable");
      if (Status s = ParseChild(depth, out); !s.ok()) return s;
      return Expect(Token::Kind::kClose, "')' after the quantified formula");
    }
    out->kind = IsKeyword(head, "=") ? Formula::Kind::kEquals : Formula::Kind::kAtom;
    out->atom.predicate = std::string(head.text);
    if (Status s = ParseArgs(/*ground=*/false, &out->atom); !s.ok()) return s;
    if (out->kind == Formula::Kind::kEquals && out->atom.args.size() != 2) {
      return InvalidArgument("line " + std::to_string(head.line) + ": '=' needs exactly 2 arguments, got " +
                             std::to_string(out->atom.args.size()));
    }
    return Status::Ok();
  }

  Status ParseChild(int depth, Formula* parent) {
    return ParseFormula(depth + 1, &parent->children.emplace_back());
  }

  Lexer lex_;
};

}  // namespace

StatusOr<Problem> ParseProblem(std::string_view text) { return Parser(text).ParseProblem(); }

StatusOr<std::string> ParseDomainName(std::string_view text) { return Parser(text).ParseDomainName(); }

}  // namespace rock::alfworld::pddl
