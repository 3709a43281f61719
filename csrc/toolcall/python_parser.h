// Recursive-descent parser for Python 3.11 expressions (the grammar of Grammar/python.gram, expressions part),
// split over python_expr.cpp (operators), python_atoms.cpp (atoms, displays, trailers), python_comp.cpp
// (comprehensions, targets, lambdas, yield), python_tokens.cpp (names, numbers, strings, f-strings) and
// python_plain.cpp (the fast path for plain literal calls).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lexer.h"
#include "toolcall.h"

namespace tl_fast {

class PyParser {
   public:
    PyParser(std::string_view src, size_t base) : src_(src), base_(base) {}

    // One expression, then only whitespace / comments / newlines (ast.parse(mode="eval")).
    bool parse_single(Expr* out);
    // Expressions separated by newlines or ';' at bracket depth 0 (Python-call syntax of several calls).
    bool parse_statements(std::vector<Expr>* out);

    // ---- fast path: calls `name(.name)*(args)` with plain literal arguments, read straight into ToolCalls ----
    // A false return only means "not this shape" (or not valid): the caller then re-parses with a fresh parser
    // and the general grammar, which decides and reports errors. The fast path never reproduces an error, it
    // only has to agree with the general path on what it accepts (csrc/tests/test_plain_calls.cpp).
    bool plain_statements(std::vector<ToolCall>* out);  // parse_statements() of plain calls / lists of them
    bool plain_single_list(std::vector<ToolCall>* out);  // parse_single() of `[call, ...]`
    // A bare name argument becomes the string of its name (BFCL's resolver), instead of declining the text.
    void plain_names_as_strings(bool on) { names_as_strings_ = on; }

    const ParseError& error() const { return err_; }

   private:
    static constexpr int kPlainMaxDepth = 16;  // deeper literals take the general path (never its depth limit)

    std::string_view src_;
    size_t base_;
    size_t pos_ = 0;
    int brackets_ = 0;  // newlines are whitespace inside brackets, as in Python
    int nesting_ = 0;   // recursion guard (kMaxDepth)
    bool names_as_strings_ = false;
    std::string name_;  // the last identifier, NFKC-normalized when it is not ASCII
    ParseError err_;

    struct Depth {
        PyParser& p;
        explicit Depth(PyParser& parser) : p(parser) { ++p.nesting_; }
        ~Depth() { --p.nesting_; }
    };

    bool fail(const char* reason) { return fail_at(pos_, reason); }
    bool fail_at(size_t at, const char* reason) {
        err_.offset = base_ + at;
        err_.reason = reason;
        return false;
    }
    unsigned char peek(size_t ahead = 0) const {
        return pos_ + ahead < src_.size() ? (unsigned char)src_[pos_ + ahead] : 0;
    }
    bool at_end() const { return pos_ >= src_.size(); }
    bool at_keyword(std::string_view word) const {
        // First byte inline: this runs several times per operand and rarely matches.
        return peek() == (unsigned char)word[0] && src_.substr(pos_, word.size()) == word &&
               !lex::id_byte(peek(word.size()));
    }
    bool at_walrus() const { return peek() == ':' && peek(1) == '='; }
    // Whitespace, comments, backslash continuations; newlines too inside brackets or when asked.
    void skip(bool newlines) {
        while (pos_ < src_.size()) {
            const char c = src_[pos_];
            if (c == ' ' || c == '\t' || c == '\f') {
                ++pos_;
            } else if (c == '#') {
                while (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r') ++pos_;
            } else if (c == '\\' && (peek(1) == '\n' || peek(1) == '\r')) {
                pos_ += (peek(1) == '\r' && peek(2) == '\n') ? 3 : 2;
            } else if ((c == '\n' || c == '\r') && (newlines || brackets_ > 0)) {
                ++pos_;
            } else {
                break;
            }
        }
    }
    bool deeper();  // one more level of nesting, false (with an error) beyond kMaxDepth
    Expr node(Expr::Kind kind, size_t start) const;
    // After an element of a display or argument list: consumes a ',' (true, *closed false) or stops at
    // `close` (true, *closed true); anything else fails with `reason`. The one "',' or close bracket" step.
    bool separator(char close, const char* reason, bool* closed);

    // ---- grammar (python_expr.cpp, python_atoms.cpp, python_comp.cpp) ----
    bool expression(Expr* out);              // expression: conditional, lambda
    bool named_expression(Expr* out);        // NAME ':=' expression | expression
    bool star_named_expression(Expr* out);   // '*' bitwise_or | named_expression
    bool test(Expr* out);
    bool if_tail(Expr* out, size_t start);
    bool bool_tail(Expr* out, size_t start, std::string_view word, bool (PyParser::*operand)(Expr*));
    bool or_test(Expr* out);
    bool and_test(Expr* out);
    bool not_test(Expr* out);
    std::string comparison_op(size_t* length);
    bool comparison(Expr* out);
    bool comparison_tail(Expr* out, size_t start);
    std::string binary_op(int level) const;
    bool bitwise(Expr* out, int level);
    bool binary_tail(Expr* out, size_t start, int level);
    bool unary(Expr* out);
    bool power(Expr* out);
    bool primary(Expr* out);
    bool trailers(Expr* out, size_t start);
    bool subscript(Expr* out, size_t start);
    bool slice_item(Expr* out);
    bool call_arguments(Expr* call);
    bool atom(Expr* out);
    bool starred(Expr* out);
    bool parens(Expr* out);
    bool list_display(Expr* out);
    bool braces(Expr* out);
    bool comprehension(Expr* comp);  // for_if_clauses, at 'for' / 'async for'
    bool targets(Expr* out);         // star_targets, up to 'in'
    bool lambda(Expr* out);
    bool yield_expr(Expr* out);
    bool at_comprehension() { return at_keyword("for") || (at_keyword("async") && for_after_async()); }
    bool for_after_async();

    // ---- tokens (python_tokens.cpp) ----
    int identifier(std::string_view* out);  // 1 ok (name_: normalized), 0 none, -1 invalid (error set)
    bool plain_identifier(std::string_view* out);  // ASCII names only (the fast path)
    bool digits(bool (*ok)(unsigned char), std::string* out);  // (python_plain.cpp, with the numbers)
    bool scan_number(Value* out, bool* imaginary);
    bool small_decimal(Value* out);  // scan_number's fast case
    bool plain_quoted(std::string* out);  // plain_literal's fast case of a string
    bool number(Expr* out);
    bool number_value(Value* out);  // an int or float (not imaginary)
    bool strings(Expr* out);
    bool string_run(std::string* text, char* result_kind, bool* u_prefix);
    bool string_literal(std::string* out, char* kind, bool* u_prefix);
    bool fstring_body(size_t b, size_t e, bool raw, int level, size_t* at, size_t start);
    bool fstring_field(size_t e, bool raw, int level, size_t* at, size_t start);
    bool escape(std::string* out, bool bytes);

    // ---- fast path (python_plain.cpp) ----
    bool plain_name(std::string_view* id);
    bool plain_separator(char close);
    bool plain_call_list(std::vector<ToolCall>* out);
    bool plain_call(std::vector<ToolCall>* out);
    bool plain_literal(Value* out, int depth);
    bool plain_sequence(Value* out, char close, int depth);
    bool plain_dict(Value* out, int depth);
};

bool is_keyword(std::string_view id);
bool is_constant_name(std::string_view id);  // True, False, None

}  // namespace tl_fast
