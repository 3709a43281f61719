// Lexer + recursive-descent parser for tool calls. See toolcall.h for the contract and limits.
#include "toolcall.h"

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace tl_fast {

namespace {

// Python's keywords, by first letter: a switch finds the two or three candidates of a name at once.
bool is_keyword(std::string_view id) {
    if (id.size() < 2 || id.size() > 8) return false;
    switch (id[0]) {
        case 'a': return id == "and" || id == "as" || id == "assert" || id == "async" || id == "await";
        case 'b': return id == "break";
        case 'c': return id == "class" || id == "continue";
        case 'd': return id == "def" || id == "del";
        case 'e': return id == "elif" || id == "else" || id == "except";
        case 'f': return id == "finally" || id == "for" || id == "from";
        case 'g': return id == "global";
        case 'i': return id == "if" || id == "import" || id == "in" || id == "is";
        case 'l': return id == "lambda";
        case 'n': return id == "nonlocal" || id == "not";
        case 'o': return id == "or";
        case 'p': return id == "pass";
        case 'r': return id == "raise" || id == "return";
        case 't': return id == "try";
        case 'w': return id == "while" || id == "with";
        case 'y': return id == "yield";
        default: return false;
    }
}

// Identifier characters by table (names are scanned a character at a time): ASCII letters, '_', any
// non-ASCII byte (Python allows Unicode names), and digits after the first character.
constexpr std::array<uint8_t, 256> kIdClass = [] {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        const bool start = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
        t[size_t(c)] = start ? 2 : (c >= '0' && c <= '9') ? 1 : 0;
    }
    return t;
}();

bool id_start(unsigned char c) { return kIdClass[c] == 2; }
bool id_char(unsigned char c) { return kIdClass[c] != 0; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

// ------------------------------------------------------------------------------------------------
// Python expressions
// ------------------------------------------------------------------------------------------------

class PyParser {
   public:
    PyParser(std::string_view src, size_t base) : src_(src), base_(base) {}

    // One expression, then only whitespace / comments / newlines.
    bool parse_single(Expr* out) {
        skip(true);
        if (!expression(out)) return false;
        skip(true);
        if (pos_ != src_.size()) return fail("unexpected text after the expression");
        return true;
    }

    // Calls separated by newlines or ';' at bracket depth 0 (Python-call syntax of several calls).
    bool parse_statements(std::vector<Expr>* out) {
        for (;;) {
            skip(true);
            while (pos_ < src_.size() && src_[pos_] == ';') {
                ++pos_;
                skip(true);
            }
            if (pos_ >= src_.size()) return true;
            Expr e;
            if (!expression(&e)) return false;
            out->push_back(std::move(e));
            skip(false);
            if (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r' && src_[pos_] != ';')
                return fail("expected a newline or ';' between calls");
        }
    }

    // ---- fast path: the shape nearly every tool call has ----
    // Calls `name(.name)*(args)` whose arguments are plain literals (str, number, True/False/None, '-' number,
    // and lists / tuples / dicts of these), read straight into ToolCalls: no Expr tree, no conversion.
    // A false return only means "not this shape" (or not valid): the caller then re-parses the text with a
    // fresh parser and the general grammar, which decides and reports errors. So this path never needs to
    // reproduce an error, only to agree with the general path on what it accepts.

    // parse_statements() where every statement is a plain call or a list of them.
    bool plain_statements(std::vector<ToolCall>* out) {
        for (;;) {
            skip(true);
            while (pos_ < src_.size() && src_[pos_] == ';') {
                ++pos_;
                skip(true);
            }
            if (pos_ >= src_.size()) return true;
            if (!(peek() == '[' ? plain_call_list(out) : plain_call(out))) return false;
            skip(false);
            if (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r' && src_[pos_] != ';') return false;
        }
    }

    // parse_single() of `[call, ...]`.
    bool plain_single_list(std::vector<ToolCall>* out) {
        skip(true);
        if (peek() != '[' || !plain_call_list(out)) return false;
        skip(true);
        return pos_ == src_.size();
    }

    const ParseError& error() const { return err_; }

   private:
    // Deeper literals take the general path, so the fast path never meets the general path's depth limit.
    static constexpr int kPlainMaxDepth = 16;

    std::string_view src_;
    size_t base_;
    size_t pos_ = 0;
    int brackets_ = 0;  // newlines are whitespace inside brackets, as in Python
    int nesting_ = 0;   // recursion guard (kMaxDepth)
    ParseError err_;

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

    struct Depth {
        PyParser& p;
        explicit Depth(PyParser& parser) : p(parser) { ++p.nesting_; }
        ~Depth() { --p.nesting_; }
    };

    bool expression(Expr* out) {
        Depth guard(*this);
        if (nesting_ > kMaxDepth) return fail("nesting deeper than the limit");
        return test(out);
    }

    // A name that may start an expression (no keyword, no True/False/None), or false.
    bool plain_name(std::string_view* id) {
        if (!identifier(id) || is_keyword(*id) || *id == "True" || *id == "False" || *id == "None") return false;
        return peek() != '\'' && peek() != '"';  // else a prefixed string such as r"..."
    }

    // After an element of a bracketed display: skips to `close` or past a ',' (false on anything else).
    bool plain_separator(char close) {
        skip(false);
        if (peek() == ',') return ++pos_, true;
        return peek() == (unsigned char)close;
    }

    // `[call, ...]` with its trailing comma allowed.
    bool plain_call_list(std::vector<ToolCall>* out) {
        ++pos_;  // '['
        ++brackets_;
        for (;;) {
            skip(false);
            if (peek() == ']') break;
            if (!plain_call(out) || !plain_separator(']')) return false;
        }
        ++pos_;
        --brackets_;
        return true;
    }

    // name(.name)*(positional..., keyword=value...) with literal arguments; appended to *out.
    bool plain_call(std::vector<ToolCall>* out) {
        const size_t start = pos_;
        std::string_view id;
        if (!plain_name(&id)) return false;
        std::string name(id);
        for (int parts = 1;; ++parts) {
            skip(false);
            if (peek() == '(') break;
            if (peek() != '.' || parts >= kPlainMaxDepth) return false;  // most non-calls end here, cheaply
            ++pos_;
            skip(false);
            if (!plain_name(&id)) return false;
            name += '.';
            name += id;
        }
        ToolCall call;
        call.name = std::move(name);
        ++pos_;  // '('
        ++brackets_;
        for (;;) {
            skip(false);
            if (peek() == ')') break;
            const size_t arg_start = pos_;
            if (identifier(&id)) {
                skip(false);
                if (peek() == '=' && peek(1) != '=') {
                    ++pos_;
                    skip(false);
                    if (is_keyword(id) || id == "True" || id == "False" || id == "None") return false;
                    for (const auto& kw : call.arguments)
                        if (kw.first == id) return false;  // repeated: the general path decides
                    if (call.arguments.empty()) call.arguments.reserve(4);
                    call.arguments.emplace_back(std::string(id), Value());
                    if (!plain_literal(&call.arguments.back().second, 0) || !plain_separator(')')) return false;
                    continue;
                }
                pos_ = arg_start;
            }
            if (!call.arguments.empty()) return false;  // positional after keyword: the general path reports it
            call.positional.emplace_back();
            if (!plain_literal(&call.positional.back(), 0) || !plain_separator(')')) return false;
        }
        ++pos_;
        --brackets_;
        call.begin = base_ + start;
        call.end = base_ + pos_;
        out->push_back(std::move(call));
        return true;
    }

    // A plain literal, as resolve() / to_literal() would make it of the Expr the general path builds.
    // The caller checks that a delimiter follows (an operator or trailer would make it something else).
    bool plain_literal(Value* out, int depth) {
        if (depth > kPlainMaxDepth) return false;
        const unsigned char c = peek();
        if (is_digit(c) || (c == '.' && is_digit(peek(1)))) return number(out);
        if (c == '-') {  // '-' then a number: both resolvers negate it
            ++pos_;
            skip(false);
            if (!(is_digit(peek()) || (peek() == '.' && is_digit(peek(1)))) || !number(out)) return false;
            if (out->kind == Value::Kind::Int) out->i = -out->i;
            else out->f = -out->f;
            return true;
        }
        if (c == '\'' || c == '"' || id_start(c)) {
            const size_t start = pos_;
            std::string_view id;
            if (identifier(&id) && peek() != '\'' && peek() != '"') {
                if (id == "True" || id == "False") *out = Value::boolean(id == "True");
                else if (id == "None") *out = Value::none();
                else return false;  // a name: its value depends on the resolver
                return true;
            }
            pos_ = start;
            out->kind = Value::Kind::Str;
            char kind = 's';
            return string_run(&out->s, &kind) && kind == 's';
        }
        if (c == '[' || c == '(') return plain_sequence(out, c == '[' ? ']' : ')', depth);
        if (c == '{') return plain_dict(out, depth);
        return false;
    }

    // [a, b] -> List, (a, b) / (a,) / () -> Tuple, (a) -> a.
    bool plain_sequence(Value* out, char close, int depth) {
        ++pos_;
        ++brackets_;
        std::vector<Value> elements;
        bool comma = false;
        for (;;) {
            skip(false);
            if (peek() == (unsigned char)close) break;
            elements.emplace_back();
            if (!plain_literal(&elements.back(), depth + 1)) return false;
            skip(false);
            if (peek() == ',') {
                ++pos_;
                comma = true;
            } else if (peek() != (unsigned char)close) {
                return false;
            }
        }
        ++pos_;
        --brackets_;
        if (close == ')' && elements.size() == 1 && !comma) {
            *out = std::move(elements[0]);
            return true;
        }
        *out = Value::seq(close == ']' ? Value::Kind::List : Value::Kind::Tuple, std::move(elements));
        return true;
    }

    // {key: value, ...} with hashable literal keys; later duplicates overwrite (Value::set).
    bool plain_dict(Value* out, int depth) {
        ++pos_;
        ++brackets_;
        out->kind = Value::Kind::Dict;
        for (;;) {
            skip(false);
            if (peek() == '}') break;
            Value key, value;
            if (!plain_literal(&key, depth + 1) || !py_hashable(key)) return false;
            skip(false);
            if (peek() != ':' || peek(1) == '=') return false;
            ++pos_;
            skip(false);
            if (!plain_literal(&value, depth + 1) || !plain_separator('}')) return false;
            out->set(std::move(key), std::move(value));
        }
        ++pos_;
        --brackets_;
        return true;
    }

    // The keyword `word` at the cursor (not a prefix of a longer name)?
    bool at_keyword(std::string_view word) const {
        // First byte inline: this runs several times per operand and rarely matches.
        return peek() == (unsigned char)word[0] && src_.substr(pos_, word.size()) == word &&
               !id_char(peek(word.size()));
    }

    Expr make_node(Expr::Kind kind, std::string id, size_t start, Expr first) {
        Expr node;
        node.kind = kind;
        node.id = std::move(id);
        node.begin = base_ + start;
        node.kids.push_back(std::move(first));
        return node;
    }

    // Python's `test` and below; conditionals, boolean operators, comparisons and bitwise operators parse
    // (so BFCL's decoder can drop them inside positional arguments) but are never values.
    // Common case first: parse the operand once, then climb through whatever operators follow it (none, for
    // almost every value in a tool call) instead of descending ten grammar levels per operand.
    bool test(Expr* out) {
        if (at_keyword("lambda")) return fail("unsupported syntax (lambda)");
        const size_t start = pos_;
        if (at_keyword("not")) {
            if (!or_test(out)) return false;
            return if_tail(out, start);
        }
        if (!unary(out)) return false;
        skip(false);
        const unsigned char next = peek();
        if (at_end() || next == ',' || next == ')' || next == ']' || next == '}' || next == ';' || next == '\n' ||
            next == '\r' || ((next == '=' || next == ':') && peek(1) != '='))
            return true;  // a delimiter: no operator follows
        for (int level = 5; level >= 0; --level)
            if (!binary_tail(out, start, level)) return false;
        return comparison_tail(out, start) && bool_tail(out, start, "and", &PyParser::not_test) &&
               bool_tail(out, start, "or", &PyParser::and_test) && if_tail(out, start);
    }

    bool if_tail(Expr* out, size_t start) {
        skip(false);
        if (!at_keyword("if")) return true;
        Depth guard(*this);
        if (nesting_ > kMaxDepth) return fail("nesting deeper than the limit");
        pos_ += 2;
        skip(false);
        Expr node = make_node(Expr::Kind::Other, "ifexp", start, std::move(*out)), cond, orelse;
        if (!or_test(&cond)) return false;
        skip(false);
        if (!at_keyword("else")) return fail("expected 'else'");
        pos_ += 4;
        skip(false);
        if (!test(&orelse)) return false;
        node.kids.push_back(std::move(cond));
        node.kids.push_back(std::move(orelse));
        node.end = base_ + pos_;
        *out = std::move(node);
        return true;
    }

    bool bool_tail(Expr* out, size_t start, std::string_view word, bool (PyParser::*operand)(Expr*)) {
        skip(false);
        if (!at_keyword(word)) return true;
        Expr node = make_node(Expr::Kind::Other, std::string(word), start, std::move(*out));
        while (at_keyword(word)) {
            if (int(node.kids.size()) + nesting_ > kMaxDepth) return fail("expression longer than the nesting limit");
            pos_ += word.size();
            skip(false);
            Expr next;
            if (!(this->*operand)(&next)) return false;
            node.kids.push_back(std::move(next));
            skip(false);
        }
        node.end = base_ + pos_;
        *out = std::move(node);
        return true;
    }
    bool or_test(Expr* out) {
        const size_t start = pos_;
        return and_test(out) && bool_tail(out, start, "or", &PyParser::and_test);
    }
    bool and_test(Expr* out) {
        const size_t start = pos_;
        return not_test(out) && bool_tail(out, start, "and", &PyParser::not_test);
    }

    bool not_test(Expr* out) {
        if (!at_keyword("not")) return comparison(out);
        Depth guard(*this);
        if (nesting_ > kMaxDepth) return fail("nesting deeper than the limit");
        const size_t start = pos_;
        pos_ += 3;
        skip(false);
        Expr operand;
        if (!not_test(&operand)) return false;
        *out = make_node(Expr::Kind::Unary, "not", start, std::move(operand));
        out->end = base_ + pos_;
        return true;
    }

    // The comparison operator at the cursor; *length is its extent in the source ("is  not" spans spaces).
    std::string comparison_op(size_t* length) {
        const unsigned char c = peek(), d = peek(1);
        *length = 2;
        if ((c == '=' || c == '!') && d == '=') return c == '=' ? "==" : "!=";
        if ((c == '<' || c == '>') && d == '=') return c == '<' ? "<=" : ">=";
        *length = 1;
        if ((c == '<' || c == '>') && d != c) return std::string(1, char(c));
        const bool is = at_keyword("is"), not_ = at_keyword("not");
        if (at_keyword("in")) return *length = 2, "in";
        if (!is && !not_) return "";
        const size_t save = pos_;
        pos_ += is ? 2 : 3;
        skip(false);
        const bool second = is ? at_keyword("not") : at_keyword("in");
        *length = pos_ + (is ? 3 : 2) - save;
        pos_ = save;
        if (is) return second ? "is not" : (*length = 2, "is");
        return second ? "not in" : "";
    }

    bool comparison(Expr* out) {
        const size_t start = pos_;
        return bitwise(out, 0) && comparison_tail(out, start);
    }

    bool comparison_tail(Expr* out, size_t start) {
        skip(false);
        size_t length = 0;
        std::string op = comparison_op(&length);
        if (op.empty()) return true;
        Expr node = make_node(Expr::Kind::Other, "compare", start, std::move(*out));
        while (!op.empty()) {
            if (int(node.keywords.size()) + nesting_ > kMaxDepth) return fail("expression longer than the nesting limit");
            pos_ += length;
            skip(false);
            Expr rhs;
            if (!bitwise(&rhs, 0)) return false;
            node.keywords.emplace_back(op, std::move(rhs));
            skip(false);
            op = comparison_op(&length);
        }
        node.end = base_ + pos_;
        *out = std::move(node);
        return true;
    }

    // Binary operator levels, loosest first: | ^ & (<< >>) (+ -) (* / // % @).
    std::string binary_op(int level) const {
        const unsigned char c = peek(), d = peek(1), e = peek(2);
        switch (level) {
            case 0: return c == '|' && d != '=' ? "|" : "";
            case 1: return c == '^' && d != '=' ? "^" : "";
            case 2: return c == '&' && d != '=' ? "&" : "";
            case 3: return (c == '<' || c == '>') && d == c && e != '=' ? std::string(2, char(c)) : "";
            case 4: return (c == '+' || c == '-') && d != '=' ? std::string(1, char(c)) : "";
            default:
                if (c == '*' && d != '*' && d != '=') return "*";
                if (c == '/' && d == '/' && e != '=') return "//";
                if ((c == '/' || c == '%' || c == '@') && d != '=') return std::string(1, char(c));
                return "";
        }
    }

    bool bitwise(Expr* out, int level) {
        const size_t start = pos_;
        if (!(level == 5 ? unary(out) : bitwise(out, level + 1))) return false;
        return binary_tail(out, start, level);
    }

    // Operators of one level after a complete left operand (left-associative).
    bool binary_tail(Expr* out, size_t start, int level) {
        int chain = 0;
        for (;;) {
            skip(false);
            const std::string op = binary_op(level);
            if (op.empty()) return true;
            if (++chain + nesting_ > kMaxDepth) return fail("expression longer than the nesting limit");
            pos_ += op.size();
            skip(false);
            Expr rhs;
            if (!(level == 5 ? unary(&rhs) : bitwise(&rhs, level + 1))) return false;
            Expr node = make_node(Expr::Kind::BinOp, op, start, std::move(*out));
            node.end = rhs.end;
            node.kids.push_back(std::move(rhs));
            *out = std::move(node);
        }
    }

    bool unary(Expr* out) {
        const unsigned char c = peek();
        if (c == '-' || c == '+' || c == '~') {
            Depth guard(*this);
            if (nesting_ > kMaxDepth) return fail("nesting deeper than the limit");
            const size_t start = pos_++;
            skip(false);
            Expr operand;
            if (!unary(&operand)) return false;
            out->kind = Expr::Kind::Unary;
            out->id = std::string(1, char(c));
            out->begin = base_ + start;
            out->end = operand.end;
            out->kids.push_back(std::move(operand));
            return true;
        }
        return power(out);
    }

    bool power(Expr* out) {
        const size_t start = pos_;
        if (!primary(out)) return false;
        skip(false);
        if (peek() == '*' && peek(1) == '*' && peek(2) != '=') {
            Depth guard(*this);
            if (nesting_ > kMaxDepth) return fail("nesting deeper than the limit");
            pos_ += 2;
            skip(false);
            Expr rhs;
            if (!unary(&rhs)) return false;
            Expr node;
            node.kind = Expr::Kind::BinOp;
            node.id = "**";
            node.begin = base_ + start;
            node.end = rhs.end;
            node.kids.push_back(std::move(*out));
            node.kids.push_back(std::move(rhs));
            *out = std::move(node);
        }
        return true;
    }

    bool primary(Expr* out) {
        const size_t start = pos_;
        if (!atom(out)) return false;
        int trailers = 0;
        for (;;) {
            skip(false);
            const unsigned char c = peek();
            if (c != '.' && c != '(' && c != '[') return true;
            if (c == '.' && is_digit(peek(1))) return fail("unexpected number");
            if (++trailers + nesting_ > kMaxDepth) return fail("nesting deeper than the limit");
            Expr node;
            node.begin = base_ + start;
            if (c == '.') {
                ++pos_;
                skip(false);
                std::string_view id;
                if (!identifier(&id)) return fail("expected an attribute name after '.'");
                if (is_keyword(id) || id == "True" || id == "False" || id == "None")
                    return fail("a keyword cannot be an attribute name");
                node.kind = Expr::Kind::Attr;
                node.id = std::string(id);
                node.kids.push_back(std::move(*out));
            } else if (c == '(') {
                node.kind = Expr::Kind::Call;
                node.kids.push_back(std::move(*out));
                if (!call_arguments(&node)) return false;
            } else {
                ++pos_;
                ++brackets_;
                skip(false);
                Expr index;
                const bool star = peek() == '*' && peek(1) != '*';  // x[*a] (PEP 646)
                if (!(star ? starred(&index) : expression(&index))) return false;
                skip(false);
                if (peek() == ',' || star) {  // a[1, 2]: the index is a tuple
                    Expr tuple = make_node(Expr::Kind::Tuple, "", pos_, std::move(index));
                    while (peek() == ',') {
                        ++pos_;
                        skip(false);
                        if (peek() == ']') break;
                        Expr more;
                        const bool more_star = peek() == '*' && peek(1) != '*';
                        if (!(more_star ? starred(&more) : expression(&more))) return false;
                        tuple.kids.push_back(std::move(more));
                        skip(false);
                    }
                    index = std::move(tuple);
                }
                if (peek() != ']') return fail("expected ']' (slices are not supported)");
                ++pos_;
                --brackets_;
                node.kind = Expr::Kind::Subscript;
                node.kids.push_back(std::move(*out));
                node.kids.push_back(std::move(index));
            }
            node.end = base_ + pos_;
            *out = std::move(node);
        }
    }

    bool call_arguments(Expr* call) {
        ++pos_;  // '('
        ++brackets_;
        bool seen_keyword = false;
        for (;;) {
            skip(false);
            if (peek() == ')') break;
            const size_t arg_start = pos_;
            if (peek() == '*' && peek(1) == '*') return fail("** arguments are not supported");
            if (peek() == '*') {  // *args: parses (BFCL drops positional arguments); never a value
                ++pos_;
                skip(false);
                Expr value;
                if (!expression(&value)) return false;
                Expr node = make_node(Expr::Kind::Other, "starred", arg_start, std::move(value));
                node.end = base_ + pos_;
                call->kids.push_back(std::move(node));
                skip(false);
                if (peek() == ',') {
                    ++pos_;
                    continue;
                }
                if (peek() != ')') return fail("expected ',' or ')' in the argument list");
                break;
            }
            std::string_view id;
            bool is_kw = false;
            if (identifier(&id)) {
                skip(false);
                if (peek() == ':' && peek(1) == '=') {  // name := value, a positional argument
                    pos_ += 2;
                    skip(false);
                    Expr value;
                    if (!expression(&value)) return false;
                    if (seen_keyword) return fail_at(arg_start, "positional argument follows keyword argument");
                    Expr node = make_node(Expr::Kind::Other, "walrus", arg_start, std::move(value));
                    node.end = base_ + pos_;
                    call->kids.push_back(std::move(node));
                    skip(false);
                    if (peek() == ',') {
                        ++pos_;
                        continue;
                    }
                    if (peek() != ')') return fail("expected ',' or ')' in the argument list");
                    break;
                }
                if (peek() == '=' && peek(1) != '=') {
                    is_kw = true;
                    if (is_keyword(id) || id == "True" || id == "False" || id == "None")
                        return fail_at(arg_start, "a keyword cannot be an argument name");
                    ++pos_;
                    skip(false);
                } else {
                    pos_ = arg_start;
                }
            }
            Expr value;
            if (!expression(&value)) return false;
            if (is_kw) {  // a repeated keyword parses (as in ast.parse); call_from_expr rejects it
                // One allocation for typical calls: growing 1->2->4->8 would move every (large) Expr each time.
                if (call->keywords.empty()) call->keywords.reserve(8);
                call->keywords.emplace_back(std::string(id), std::move(value));
                seen_keyword = true;
            } else {
                if (seen_keyword) return fail_at(arg_start, "positional argument follows keyword argument");
                call->kids.push_back(std::move(value));
            }
            skip(false);
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() != ')') return fail("expected ',' or ')' in the argument list");
            break;
        }
        ++pos_;
        --brackets_;
        return true;
    }

    bool identifier(std::string_view* out) {
        if (!id_start(peek())) return false;
        const size_t start = pos_;
        while (++pos_ < src_.size() && id_char((unsigned char)src_[pos_])) {
        }
        *out = src_.substr(start, pos_ - start);
        return true;
    }

    bool atom(Expr* out) {
        const size_t start = pos_;
        out->begin = base_ + start;
        const unsigned char c = peek();
        if (at_end()) return fail("unexpected end of input");
        if (id_start(c)) {
            std::string_view id;
            identifier(&id);
            if (peek() == '\'' || peek() == '"') {
                pos_ = start;
                return strings(out);
            }
            if (id == "True" || id == "False") {
                out->value = Value::boolean(id == "True");
            } else if (id == "None") {
                out->value = Value::none();
            } else if (is_keyword(id)) {
                return fail_at(start, "unsupported syntax (Python keyword)");
            } else {
                out->kind = Expr::Kind::Name;
                out->id = std::string(id);
            }
        } else if (is_digit(c) || (c == '.' && is_digit(peek(1)))) {
            if (!number(&out->value)) return false;
        } else if (c == '.' && peek(1) == '.' && peek(2) == '.') {
            pos_ += 3;
            out->kind = Expr::Kind::Ellipsis;
        } else if (c == '\'' || c == '"') {
            return strings(out);
        } else if (c == '(' || c == '[') {
            if (!sequence(out, c == '(' ? ')' : ']')) return false;
        } else if (c == '{') {
            if (!braces(out)) return false;
        } else {
            return fail("unexpected character");
        }
        out->end = base_ + pos_;
        return true;
    }

    // *x (a list, tuple or set element): parses, never a value.
    bool starred(Expr* out) {
        const size_t at = pos_++;
        skip(false);
        Expr value;
        if (!bitwise(&value, 0)) return false;
        *out = make_node(Expr::Kind::Other, "starred", at, std::move(value));
        out->end = base_ + pos_;
        return true;
    }

    bool sequence(Expr* out, char close) {
        ++pos_;
        ++brackets_;
        bool comma = false;
        std::vector<Expr> elements;
        for (;;) {
            skip(false);
            if (peek() == (unsigned char)close) break;
            Expr e;
            if (peek() == '*') {
                if (peek(1) == '*') return fail("'**' in a list or tuple");
                if (!starred(&e)) return false;
            } else if (!expression(&e)) {
                return false;
            }
            elements.push_back(std::move(e));
            skip(false);
            if (peek() == ',') {
                ++pos_;
                comma = true;
                continue;
            }
            if (peek() != (unsigned char)close)
                return fail(close == ')' ? "expected ',' or ')'" : "expected ',' or ']'");
            break;
        }
        ++pos_;
        --brackets_;
        if (close == ')' && elements.size() == 1 && !comma && elements[0].kind == Expr::Kind::Other &&
            elements[0].id == "starred")
            return fail("a starred expression needs a comma: (*x,)");
        if (close == ')' && elements.size() == 1 && !comma) {  // parentheses only group
            const size_t begin = out->begin;
            *out = std::move(elements[0]);
            out->begin = begin;  // ast reports the inner node's span; ours includes the parentheses
            return true;
        }
        out->kind = close == ')' ? Expr::Kind::Tuple : Expr::Kind::List;
        out->kids = std::move(elements);
        return true;
    }

    bool braces(Expr* out) {
        ++pos_;
        ++brackets_;
        skip(false);
        out->kind = Expr::Kind::Dict;
        bool first = true;
        for (;;) {
            skip(false);
            if (peek() == '}') break;
            Expr key;
            if (peek() == '*' && peek(1) == '*') {  // {**x}: parses, never a value (the key marks it)
                if (!first && out->kind != Expr::Kind::Dict) return fail("'**' in a set");
                const size_t at = pos_;
                pos_ += 2;
                skip(false);
                Expr value;
                if (!bitwise(&value, 0)) return false;
                out->kind = Expr::Kind::Dict;
                first = false;
                Expr marker = make_node(Expr::Kind::Other, "dstar", at, std::move(value));
                marker.end = base_ + pos_;
                out->keys.push_back(std::move(marker));
                out->kids.emplace_back();
            } else {
                if (peek() == '*') {
                    if (!first && out->kind == Expr::Kind::Dict) return fail("'*' in a dict");
                    if (!starred(&key)) return false;
                    out->kind = Expr::Kind::Set;
                } else if (!expression(&key)) {
                    return false;
                }
                skip(false);
                if (first) out->kind = key.kind != Expr::Kind::Other || key.id != "starred"
                                           ? (peek() == ':' ? Expr::Kind::Dict : Expr::Kind::Set)
                                           : Expr::Kind::Set;
                first = false;
                if (out->kind == Expr::Kind::Dict) {
                    if (peek() != ':') return fail("expected ':' in a dict");
                    ++pos_;
                    skip(false);
                    Expr value;
                    if (!expression(&value)) return false;
                    out->keys.push_back(std::move(key));
                    out->kids.push_back(std::move(value));
                } else {
                    out->kids.push_back(std::move(key));
                }
            }
            skip(false);
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() != '}') return fail("expected ',' or '}'");
            break;
        }
        ++pos_;
        --brackets_;
        return true;
    }

    // digitpart := digit (["_"] digit)*
    bool digits(bool (*ok)(unsigned char), std::string* out) {
        if (!ok(peek())) return false;
        for (;;) {
            out->push_back(char(peek()));
            ++pos_;
            if (peek() == '_' && ok(peek(1))) ++pos_;
            if (!ok(peek())) return true;
        }
    }

    bool number(Value* out) {
        const size_t start = pos_;
        std::string text;
        const unsigned char c1 = peek(1) | 0x20;
        if (peek() == '0' && (c1 == 'x' || c1 == 'o' || c1 == 'b')) {
            pos_ += 2;
            if (peek() == '_') ++pos_;
            const int base = c1 == 'x' ? 16 : c1 == 'o' ? 8 : 2;
            auto ok = base == 16 ? +[](unsigned char c) { return hex_value(c) >= 0; }
                      : base == 8 ? +[](unsigned char c) { return c >= '0' && c <= '7'; }
                                  : +[](unsigned char c) { return c == '0' || c == '1'; };
            if (!digits(ok, &text)) return fail_at(start, "invalid number literal");
            if (id_char(peek())) return fail_at(start, "invalid number literal");
            errno = 0;
            const unsigned long long v = std::strtoull(text.c_str(), nullptr, base);
            if (errno == ERANGE || v > 0x7FFFFFFFFFFFFFFFull) return fail_at(start, "integer literal too large");
            *out = Value::integer(int64_t(v));
            return true;
        }
        bool is_float = false;
        digits(+[](unsigned char c) { return is_digit(c); }, &text);
        if (peek() == '.') {
            is_float = true;
            text += '.';
            ++pos_;
            digits(+[](unsigned char c) { return is_digit(c); }, &text);
        }
        if ((peek() | 0x20) == 'e') {
            const size_t save = pos_;
            std::string exp = "e";
            ++pos_;
            if (peek() == '+' || peek() == '-') exp += char(peek()), ++pos_;
            if (digits(+[](unsigned char c) { return is_digit(c); }, &exp)) {
                is_float = true;
                text += exp;
            } else {
                pos_ = save;
            }
        }
        if ((peek() | 0x20) == 'j') return fail_at(start, "complex numbers are not supported");
        if (id_char(peek())) return fail_at(start, "invalid decimal literal");
        if (is_float) {
            *out = Value::real(std::strtod(text.c_str(), nullptr));
            return true;
        }
        if (text.size() > 1 && text[0] == '0' && text.find_first_not_of('0') != std::string::npos)
            return fail_at(start, "leading zeros in a decimal integer literal");
        errno = 0;
        const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
        if (errno == ERANGE || v > 0x7FFFFFFFFFFFFFFFull) return fail_at(start, "integer literal too large");
        *out = Value::integer(int64_t(v));
        return true;
    }

    // One or more adjacent string literals, concatenated (Python's implicit concatenation).
    // Bytes and f-string literals parse (BFCL's decoder may drop them with a positional argument) but are
    // never values: they become Other("bytes") / Other("fstring").
    bool strings(Expr* out) {
        std::string text;
        const size_t start = pos_;
        char kind = 's';
        if (!string_run(&text, &kind)) return false;
        if (kind != 's') {
            out->kind = Expr::Kind::Other;
            out->id = kind == 'b' ? "bytes" : "fstring";
            out->value = Value::str(std::string(src_.substr(start, pos_ - start)));  // source text, for unparse
        } else {
            out->kind = Expr::Kind::Const;
            out->value = Value::str(std::move(text));
        }
        out->end = base_ + pos_;
        return true;
    }

    // The adjacent literals of strings(): their concatenated text and *kind 's', or 'b' / 'f' when they are
    // bytes / hold an f-string (then the text is not a value).
    bool string_run(std::string* text, char* result_kind) {
        const size_t start = pos_;
        int bytes = 0, parts = 0;
        bool fstring = false;
        for (;;) {
            char kind = 's';
            if (!string_literal(text, &kind)) return false;
            ++parts;
            bytes += kind == 'b';
            fstring = fstring || kind == 'f';
            const size_t save = pos_;
            skip(false);
            size_t p = pos_;
            while (p < src_.size() && p - pos_ < 3 && ((src_[p] | 0x20) == 'r' || (src_[p] | 0x20) == 'u' ||
                                                        (src_[p] | 0x20) == 'b' || (src_[p] | 0x20) == 'f'))
                ++p;
            if (p < src_.size() && (src_[p] == '\'' || src_[p] == '"')) continue;
            pos_ = save;
            break;
        }
        if (bytes != 0 && bytes != parts) return fail_at(start, "cannot mix bytes and str literals");
        *result_kind = bytes ? 'b' : fstring ? 'f' : 's';
        return true;
    }

    // f-string replacement fields: "{{" and "}}" are escapes, "{" needs a non-empty field and its "}".
    bool check_fstring(size_t body_begin, size_t body_end, size_t start) {
        for (size_t k = body_begin; k < body_end; ++k) {
            const char c = src_[k];
            if ((c == '{' || c == '}') && k + 1 < body_end && src_[k + 1] == c) {
                ++k;
            } else if (c == '}') {
                return fail_at(start, "f-string: single '}' is not allowed");
            } else if (c == '{') {
                int depth = 1;
                size_t m = k + 1;
                bool empty = true;
                for (; m < body_end && depth > 0; ++m) {
                    if (src_[m] == '{') ++depth;
                    else if (src_[m] == '}') --depth;
                    if (depth > 0 && !is_space((unsigned char)src_[m])) empty = false;
                }
                if (depth > 0) return fail_at(start, "f-string: expecting '}'");
                if (empty) return fail_at(start, "f-string: empty expression not allowed");
                k = m - 1;
            }
        }
        return true;
    }

    // *kind: 's' (str), 'b' (bytes) or 'f' (f-string). Valid prefixes: r, u, b, f, br/rb, fr/rf (any case).
    bool string_literal(std::string* out, char* kind) {
        const size_t start = pos_;
        bool raw = false, u = false;
        while (id_char(peek())) {
            const unsigned char p = peek() | 0x20;
            if (p == 'r' && !raw) raw = true;
            else if ((p == 'b' || p == 'f') && *kind == 's') *kind = char(p);
            else if (p == 'u' && !u) u = true;
            else return fail_at(start, "invalid string prefix");
            ++pos_;
        }
        if (u && pos_ - start > 1) return fail_at(start, "invalid string prefix");
        const char quote = char(peek());
        const bool triple = peek(1) == (unsigned char)quote && peek(2) == (unsigned char)quote;
        pos_ += triple ? 3 : 1;
        const size_t body = pos_;
        for (;;) {
            if (at_end()) return fail_at(start, "unterminated string literal");
            const char c = src_[pos_];
            if (c == quote) {
                if (!triple) {
                    ++pos_;
                    return finish_literal(*kind, body, pos_ - 1, start);
                }
                if (peek(1) == (unsigned char)quote && peek(2) == (unsigned char)quote) {
                    pos_ += 3;
                    return finish_literal(*kind, body, pos_ - 3, start);
                }
                *out += c;
                ++pos_;
            } else if ((c == '\n' || c == '\r') && !triple) {
                return fail_at(start, "unterminated string literal");
            } else if (c == '\0') {
                return fail("null byte in the source");
            } else if (c == '\\') {
                if (pos_ + 1 >= src_.size()) return fail_at(start, "unterminated string literal");
                if (raw) {  // the backslash stays; it only keeps the next character from closing the string
                    *out += c;
                    *out += src_[pos_ + 1];
                    pos_ += 2;
                    continue;
                }
                if (*kind == 'b' && (src_[pos_ + 1] == 'u' || src_[pos_ + 1] == 'U' || src_[pos_ + 1] == 'N')) {
                    *out += src_.substr(pos_, 2);  // not escapes in bytes
                    pos_ += 2;
                    continue;
                }
                if (!escape(out)) return false;
            } else {
                if (*kind == 'b' && (unsigned char)c >= 0x80)
                    return fail_at(start, "bytes can only contain ASCII literal characters");
                // This character and those after it that need no attention, in one append.
                const size_t run = pos_;
                while (++pos_ < src_.size() && ordinary_char((unsigned char)src_[pos_], quote, triple, *kind == 'b')) {
                }
                out->append(src_.data() + run, pos_ - run);
            }
        }
    }

    // A character of a string literal that is copied as is: no quote, backslash, null byte, line end (unless
    // in a triple-quoted literal) or non-ASCII byte in bytes.
    static bool ordinary_char(unsigned char c, char quote, bool triple, bool bytes) {
        if (c == (unsigned char)quote || c == '\\' || c == '\0') return false;
        if ((c == '\n' || c == '\r') && !triple) return false;
        return !(bytes && c >= 0x80);
    }

    bool finish_literal(char kind, size_t body_begin, size_t body_end, size_t start) {
        return kind != 'f' || check_fstring(body_begin, body_end, start);
    }

    bool escape(std::string* out) {
        const size_t at = pos_;
        const char e = src_[pos_ + 1];
        pos_ += 2;
        switch (e) {
            case '\n': return true;
            case '\r':
                if (peek() == '\n') ++pos_;
                return true;
            case '\\': *out += '\\'; return true;
            case '\'': *out += '\''; return true;
            case '"': *out += '"'; return true;
            case 'a': *out += '\a'; return true;
            case 'b': *out += '\b'; return true;
            case 'f': *out += '\f'; return true;
            case 'n': *out += '\n'; return true;
            case 'r': *out += '\r'; return true;
            case 't': *out += '\t'; return true;
            case 'v': *out += '\v'; return true;
            case 'x':
            case 'u':
            case 'U': {
                const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                uint32_t cp = 0;
                for (int k = 0; k < n; ++k) {
                    const int h = hex_value(peek());
                    if (h < 0) return fail_at(at, "truncated \\x, \\u or \\U escape");
                    cp = cp * 16 + uint32_t(h);
                    ++pos_;
                }
                if (cp > 0x10FFFF) return fail_at(at, "escape beyond U+10FFFF");
                if (cp >= 0xD800 && cp <= 0xDFFF) return fail_at(at, "lone surrogate escape");
                append_utf8(*out, cp);
                return true;
            }
            case 'N': return fail_at(at, "\\N{...} escapes are not supported");
            default:
                if (e >= '0' && e <= '7') {
                    uint32_t cp = uint32_t(e - '0');
                    for (int k = 0; k < 2 && peek() >= '0' && peek() <= '7'; ++k) cp = cp * 8 + (peek() - '0'), ++pos_;
                    append_utf8(*out, cp);
                    return true;
                }
                *out += '\\';  // unknown escapes keep the backslash (Python warns, then does the same)
                pos_ = at + 1;
                return true;
        }
    }
};

// ------------------------------------------------------------------------------------------------
// JSON
// ------------------------------------------------------------------------------------------------

class JsonParser {
   public:
    JsonParser(std::string_view src, size_t base) : src_(src), base_(base) {}

    bool value_at(size_t* pos, Value* out) {
        pos_ = *pos;
        const bool ok = value(out, 0);
        *pos = pos_;
        return ok;
    }
    void skip_ws() {
        while (pos_ < src_.size() && (src_[pos_] == ' ' || src_[pos_] == '\t' || src_[pos_] == '\n' || src_[pos_] == '\r'))
            ++pos_;
    }
    size_t pos() const { return pos_; }
    void set_pos(size_t p) { pos_ = p; }
    const ParseError& error() const { return err_; }

   private:
    std::string_view src_;
    size_t base_;
    size_t pos_ = 0;
    ParseError err_;

    bool fail(const char* reason) {
        err_.offset = base_ + pos_;
        err_.reason = reason;
        return false;
    }
    unsigned char peek(size_t ahead = 0) const {
        return pos_ + ahead < src_.size() ? (unsigned char)src_[pos_ + ahead] : 0;
    }
    bool literal(const char* word) {
        const size_t n = std::strlen(word);
        if (src_.substr(pos_, n) != word) return false;
        pos_ += n;
        return true;
    }

    bool value(Value* out, int depth) {
        skip_ws();
        if (depth > kMaxDepth) return fail("JSON nested deeper than the limit");
        const unsigned char c = peek();
        if (c == '{') {
            ++pos_;
            out->kind = Value::Kind::Dict;
            skip_ws();
            if (peek() == '}') return ++pos_, true;
            for (;;) {
                skip_ws();
                if (peek() != '"') return fail("expected a string key in a JSON object");
                std::string key;
                if (!string(&key)) return false;
                skip_ws();
                if (peek() != ':') return fail("expected ':' in a JSON object");
                ++pos_;
                Value v;
                if (!value(&v, depth + 1)) return false;
                out->set(Value::str(std::move(key)), std::move(v));  // json.loads: the last duplicate wins
                skip_ws();
                if (peek() == ',') {
                    ++pos_;
                    continue;
                }
                if (peek() == '}') return ++pos_, true;
                return fail("expected ',' or '}' in a JSON object");
            }
        }
        if (c == '[') {
            ++pos_;
            out->kind = Value::Kind::List;
            skip_ws();
            if (peek() == ']') return ++pos_, true;
            for (;;) {
                Value v;
                if (!value(&v, depth + 1)) return false;
                out->items.push_back(std::move(v));
                skip_ws();
                if (peek() == ',') {
                    ++pos_;
                    continue;
                }
                if (peek() == ']') return ++pos_, true;
                return fail("expected ',' or ']' in a JSON array");
            }
        }
        if (c == '"') {
            out->kind = Value::Kind::Str;
            return string(&out->s);
        }
        if (literal("true")) return *out = Value::boolean(true), true;
        if (literal("false")) return *out = Value::boolean(false), true;
        if (literal("null")) return *out = Value::none(), true;
        if (c == '-' || is_digit(c)) return number(out);
        return fail(pos_ >= src_.size() ? "unexpected end of JSON" : "invalid JSON value");
    }

    bool number(Value* out) {
        const size_t start = pos_;
        if (peek() == '-') ++pos_;
        if (peek() == '0') {
            ++pos_;
        } else if (is_digit(peek())) {
            while (is_digit(peek())) ++pos_;
        } else {
            return fail("invalid JSON number");
        }
        bool is_float = false;
        if (peek() == '.') {
            ++pos_;
            if (!is_digit(peek())) return fail("invalid JSON number");
            while (is_digit(peek())) ++pos_;
            is_float = true;
        }
        if ((peek() | 0x20) == 'e') {
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!is_digit(peek())) return fail("invalid JSON number");
            while (is_digit(peek())) ++pos_;
            is_float = true;
        }
        const std::string text(src_.substr(start, pos_ - start));
        if (!is_float) {
            errno = 0;
            const long long v = std::strtoll(text.c_str(), nullptr, 10);
            if (errno == ERANGE) {
                pos_ = start;
                return fail("JSON integer outside the 64-bit range");
            }
            *out = Value::integer(v);
        } else {
            *out = Value::real(std::strtod(text.c_str(), nullptr));
        }
        return true;
    }

    bool hex4(uint32_t* cp) {
        *cp = 0;
        for (int k = 0; k < 4; ++k) {
            const int h = hex_value(peek());
            if (h < 0) return fail("invalid \\u escape in a JSON string");
            *cp = *cp * 16 + uint32_t(h);
            ++pos_;
        }
        return true;
    }

    bool string(std::string* out) {
        ++pos_;  // '"'
        for (;;) {
            if (pos_ >= src_.size()) return fail("unterminated JSON string");
            const unsigned char c = peek();
            if (c == '"') return ++pos_, true;
            if (c < 0x20) return fail("control character in a JSON string");
            if (c != '\\') {
                *out += char(c);
                ++pos_;
                continue;
            }
            const unsigned char e = peek(1);
            pos_ += 2;
            switch (e) {
                case '"': *out += '"'; break;
                case '\\': *out += '\\'; break;
                case '/': *out += '/'; break;
                case 'b': *out += '\b'; break;
                case 'f': *out += '\f'; break;
                case 'n': *out += '\n'; break;
                case 'r': *out += '\r'; break;
                case 't': *out += '\t'; break;
                case 'u': {
                    uint32_t cp;
                    if (!hex4(&cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF && peek() == '\\' && peek(1) == 'u') {
                        const size_t save = pos_;
                        pos_ += 2;
                        uint32_t low;
                        if (!hex4(&low)) return false;
                        if (low >= 0xDC00 && low <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        else pos_ = save;
                    }
                    if (cp >= 0xD800 && cp <= 0xDFFF) return fail("lone surrogate in a JSON string");
                    append_utf8(*out, cp);
                    break;
                }
                default:
                    pos_ -= 2;
                    return fail("invalid escape in a JSON string");
            }
        }
    }
};

// ------------------------------------------------------------------------------------------------
// From expressions to calls
// ------------------------------------------------------------------------------------------------

// A literal value: constants, +/- numbers, lists, tuples, dicts; JSON's true/false/null as bare names.
bool to_literal(Expr& e, Value* out, ParseError* err) {
    auto fail = [&](const char* reason) {
        err->offset = e.begin;
        err->reason = reason;
        return false;
    };
    switch (e.kind) {
        case Expr::Kind::Const:
            *out = std::move(e.value);  // the expression is consumed
            return true;
        case Expr::Kind::Name:
            if (e.id == "true" || e.id == "false") return *out = Value::boolean(e.id == "true"), true;
            if (e.id == "null") return *out = Value::none(), true;
            return fail("a bare name is not a value (quote strings)");
        case Expr::Kind::Unary: {
            if (e.id == "~" || e.id == "not") return fail("operators are not evaluated");
            Value v;
            if (!to_literal(e.kids[0], &v, err)) return false;
            if (e.kids[0].kind != Expr::Kind::Unary && e.kids[0].kind != Expr::Kind::Const)
                return fail("a sign applies to numbers only");
            if (v.kind == Value::Kind::Int) {
                if (e.id == "-") v.i = -v.i;
            } else if (v.kind == Value::Kind::Float) {
                if (e.id == "-") v.f = -v.f;
            } else {
                return fail("a sign applies to numbers only");
            }
            *out = std::move(v);
            return true;
        }
        case Expr::Kind::List:
        case Expr::Kind::Tuple: {
            out->kind = e.kind == Expr::Kind::List ? Value::Kind::List : Value::Kind::Tuple;
            out->items.resize(e.kids.size());
            for (size_t k = 0; k < e.kids.size(); ++k)
                if (!to_literal(e.kids[k], &out->items[k], err)) return false;
            return true;
        }
        case Expr::Kind::Dict: {
            out->kind = Value::Kind::Dict;
            for (size_t k = 0; k < e.kids.size(); ++k) {
                Value key, value;
                if (!to_literal(e.keys[k], &key, err)) return false;
                if (!py_hashable(key)) {
                    err->offset = e.keys[k].begin;
                    err->reason = "unhashable dict key";
                    return false;
                }
                if (!to_literal(e.kids[k], &value, err)) return false;
                out->set(std::move(key), std::move(value));
            }
            return true;
        }
        case Expr::Kind::Set: return fail("sets are not supported");
        case Expr::Kind::Call: return fail("a nested call is not a value");
        case Expr::Kind::Attr: return fail("an attribute is not a value");
        case Expr::Kind::BinOp: return fail("operators are not evaluated");
        case Expr::Kind::Subscript: return fail("subscripts are not evaluated");
        case Expr::Kind::Ellipsis: return fail("'...' is not a value");
        case Expr::Kind::Other:
            if (e.id == "bytes") return fail("bytes literals are not supported");
            if (e.id == "fstring") return fail("f-strings are not supported");
            return fail(e.id == "starred" ? "starred arguments are not supported" : "operators are not evaluated");
    }
    return fail("unsupported expression");
}

bool dotted_name(const Expr& e, std::string* out) {
    if (e.kind == Expr::Kind::Name) {
        *out = e.id;
        return true;
    }
    if (e.kind == Expr::Kind::Attr && dotted_name(e.kids[0], out)) {
        *out += "." + e.id;
        return true;
    }
    return false;
}

bool call_from_expr(Expr& e, ToolCall* out, ParseError* err) {
    if (e.kind != Expr::Kind::Call || !dotted_name(e.kids[0], &out->name)) {
        err->offset = e.begin;
        err->reason = "expected a call like name(arg=value)";
        return false;
    }
    out->begin = e.begin;
    out->end = e.end;
    for (size_t k = 1; k < e.kids.size(); ++k) {
        Value v;
        if (!to_literal(e.kids[k], &v, err)) return false;
        out->positional.push_back(std::move(v));
    }
    out->arguments.reserve(e.keywords.size());
    for (size_t k = 0; k < e.keywords.size(); ++k) {
        auto& kw = e.keywords[k];
        for (size_t m = 0; m < k; ++m) {
            if (e.keywords[m].first == kw.first) {
                err->offset = kw.second.begin;
                err->reason = "keyword argument repeated";
                return false;
            }
        }
        Value v;
        if (!to_literal(kw.second, &v, err)) return false;
        out->arguments.emplace_back(kw.first, std::move(v));
    }
    return true;
}

struct Cursor {
    std::string_view text;
    ParseResult* result;

    bool fail(size_t offset, std::string reason) {
        result->ok = false;
        result->error = {offset, std::move(reason)};
        return false;
    }
    bool add(ToolCall call) {
        if (result->calls.size() >= kMaxCalls) return fail(call.begin, "more calls than the limit");
        result->calls.push_back(std::move(call));
        return true;
    }
};

size_t skip_space(std::string_view t, size_t b, size_t e) {
    while (b < e && is_space((unsigned char)t[b])) ++b;
    return b;
}
size_t trim_end(std::string_view t, size_t b, size_t e) {
    while (e > b && is_space((unsigned char)t[e - 1])) --e;
    return e;
}

bool parse_python_calls(Cursor& cur, size_t b, size_t e) {
    std::vector<ToolCall> plain;
    if (PyParser(cur.text.substr(b, e - b), b).plain_statements(&plain)) {
        for (ToolCall& call : plain)
            if (!cur.add(std::move(call))) return false;
        return true;
    }
    PyParser parser(cur.text.substr(b, e - b), b);
    std::vector<Expr> statements;
    if (!parser.parse_statements(&statements)) return cur.fail(parser.error().offset, parser.error().reason);
    for (Expr& s : statements) {
        if (s.kind == Expr::Kind::List) {
            for (Expr& element : s.kids) {
                ToolCall call;
                if (!call_from_expr(element, &call, &cur.result->error)) return cur.fail(cur.result->error.offset, cur.result->error.reason);
                if (!cur.add(std::move(call))) return false;
            }
        } else {
            ToolCall call;
            if (!call_from_expr(s, &call, &cur.result->error)) return cur.fail(cur.result->error.offset, cur.result->error.reason);
            if (!cur.add(std::move(call))) return false;
        }
    }
    return true;
}

// {"name": ..., "arguments" | "parameters": {...} or a JSON string of one}, or OpenAI's {"function": {...}}.
bool call_from_json(Cursor& cur, const Value& v, size_t begin, size_t end) {
    const Value* obj = &v;
    if (obj->kind == Value::Kind::Dict && !obj->get("name") && obj->get("function") &&
        obj->get("function")->kind == Value::Kind::Dict)
        obj = obj->get("function");
    const Value* name = obj->kind == Value::Kind::Dict ? obj->get("name") : nullptr;
    if (!name || name->kind != Value::Kind::Str)
        return cur.fail(begin, "a JSON call needs a string \"name\"");
    ToolCall call;
    call.name = name->s;
    call.begin = begin;
    call.end = end;
    const Value* args = obj->get("arguments");
    if (!args) args = obj->get("parameters");
    Value decoded;
    if (args && args->kind == Value::Kind::Str) {  // OpenAI sends arguments as a JSON string
        ParseError err;
        JsonParser inner(args->s, begin);
        size_t p = 0;
        inner.skip_ws();
        p = inner.pos();
        if (!inner.value_at(&p, &decoded)) return cur.fail(begin, "\"arguments\" string is not JSON");
        inner.set_pos(p);
        inner.skip_ws();
        if (inner.pos() != args->s.size()) return cur.fail(begin, "\"arguments\" string is not JSON");
        args = &decoded;
    }
    if (args && args->kind != Value::Kind::Dict) return cur.fail(begin, "JSON call arguments must be an object");
    if (args)
        for (size_t k = 0; k < args->keys.size(); ++k) call.arguments.emplace_back(args->keys[k].s, args->items[k]);
    return cur.add(std::move(call));
}

// One JSON call object, a list of them, or several objects separated by whitespace (JSON lines).
bool parse_json_calls(Cursor& cur, size_t b, size_t e) {
    JsonParser parser(cur.text.substr(0, e), 0);
    size_t pos = skip_space(cur.text, b, e);
    if (pos == e) return cur.fail(pos, "no JSON call found");
    while (pos < e) {
        const size_t start = pos;
        Value v;
        if (!parser.value_at(&pos, &v)) return cur.fail(parser.error().offset, parser.error().reason);
        if (v.kind == Value::Kind::List) {
            for (const Value& item : v.items)
                if (!call_from_json(cur, item, start, pos)) return false;
        } else if (!call_from_json(cur, v, start, pos)) {
            return false;
        }
        pos = skip_space(cur.text, pos, e);
    }
    return true;
}

bool starts_json(std::string_view t, size_t b, size_t e) {
    b = skip_space(t, b, e);
    if (b < e && t[b] == '{') return true;
    if (b < e && t[b] == '[') {
        const size_t n = skip_space(t, b + 1, e);
        return n < e && t[n] == '{';
    }
    return false;
}

size_t find_line_key(std::string_view t, size_t b, size_t e, std::string_view key);

// ```lang\n ... ``` : the body of the first fence that opens a line (the closing fence may be missing).
bool fence_body(std::string_view t, size_t b, size_t e, size_t* body_b, size_t* body_e) {
    const size_t open = find_line_key(t, b, e, "```");
    if (open == std::string_view::npos) return false;
    size_t p = open + 3;
    size_t q = p;
    while (q < e && id_char((unsigned char)t[q])) ++q;  // optional language tag
    if (q == e || t[q] == '\n' || t[q] == '\r' || t[q] == ' ') p = q;
    const size_t close = t.substr(0, e).find("```", p);
    *body_b = p;
    *body_e = close == std::string_view::npos ? e : close;
    return true;
}

bool parse_plain(Cursor& cur, size_t b, size_t e) {
    size_t fb, fe;
    if (fence_body(cur.text, b, e, &fb, &fe)) b = fb, e = fe;
    b = skip_space(cur.text, b, e);
    e = trim_end(cur.text, b, e);
    if (b == e) return cur.fail(b, "no tool call found");
    return starts_json(cur.text, b, e) ? parse_json_calls(cur, b, e) : parse_python_calls(cur, b, e);
}

bool parse_tagged(Cursor& cur, size_t b, size_t e) {
    static const std::string_view kOpen = "<tool_call>", kClose = "</tool_call>";
    const std::string_view t = cur.text.substr(0, e);
    size_t open = t.find(kOpen, b);
    if (open == std::string_view::npos) return cur.fail(b, "no <tool_call> block found");
    while (open != std::string_view::npos) {
        const size_t body = open + kOpen.size();
        size_t close = t.find(kClose, body);
        const size_t body_end = close == std::string_view::npos ? e : close;
        if (!parse_plain(cur, body, body_end)) return false;
        if (close == std::string_view::npos) break;
        open = t.find(kOpen, close + kClose.size());
    }
    return true;
}

// Start of a line that begins with `key` (after optional spaces), searching [b, e).
size_t find_line_key(std::string_view t, size_t b, size_t e, std::string_view key) {
    for (size_t p = t.substr(0, e).find(key, b); p != std::string_view::npos; p = t.substr(0, e).find(key, p + 1)) {
        size_t q = p;
        while (q > b && (t[q - 1] == ' ' || t[q - 1] == '\t')) --q;
        if (q == 0 || q == b || t[q - 1] == '\n' || t[q - 1] == '\r') return p;
    }
    return std::string_view::npos;
}

bool parse_react(Cursor& cur, size_t b, size_t e) {
    const std::string_view t = cur.text;
    size_t action = find_line_key(t, b, e, "Action:");
    if (action == std::string_view::npos) return cur.fail(b, "no 'Action:' line found");
    while (action != std::string_view::npos) {
        const size_t next = find_line_key(t, action + 7, e, "Action:");
        const size_t block_end = next == std::string_view::npos ? e : next;
        size_t name_b = action + 7, name_e = name_b;
        while (name_e < block_end && t[name_e] != '\n' && t[name_e] != '\r') ++name_e;
        name_b = skip_space(t, name_b, name_e);
        name_e = trim_end(t, name_b, name_e);
        if (name_b == name_e) return cur.fail(action, "empty tool name after 'Action:'");
        const size_t input = find_line_key(t, name_e, block_end, "Action Input:");
        if (input == std::string_view::npos) return cur.fail(action, "'Action:' without 'Action Input:'");
        size_t arg_b = skip_space(t, input + 13, block_end);
        size_t arg_e = block_end;
        for (std::string_view stop : {"Observation:", "Thought:", "```"}) {  // ``` closes a fenced answer
            const size_t s = find_line_key(t, arg_b, arg_e, stop);
            if (s != std::string_view::npos) arg_e = s;
        }
        arg_e = trim_end(t, arg_b, arg_e);
        JsonParser parser(t.substr(0, arg_e), 0);
        size_t pos = arg_b;
        Value args;
        if (!parser.value_at(&pos, &args)) return cur.fail(parser.error().offset, parser.error().reason);
        if (skip_space(t, pos, arg_e) != arg_e) return cur.fail(pos, "text after the Action Input JSON");
        if (args.kind != Value::Kind::Dict) return cur.fail(arg_b, "Action Input must be a JSON object");
        ToolCall call;
        call.name = std::string(t.substr(name_b, name_e - name_b));
        call.begin = action;
        call.end = pos;
        for (size_t k = 0; k < args.keys.size(); ++k) call.arguments.emplace_back(args.keys[k].s, args.items[k]);
        if (!cur.add(std::move(call))) return false;
        action = next;
    }
    return true;
}

bool is_special_token(std::string_view tok) {
    if (tok == "</s>" || tok == "<eos>" || tok == "<end_of_turn>" || tok == "<eot>" || tok == "<end_of_text>")
        return true;
    if (tok.size() < 4 || tok.substr(0, 2) != "<|" || tok.substr(tok.size() - 2) != "|>") return false;
    for (char c : tok.substr(2, tok.size() - 4))
        if (is_space((unsigned char)c) || c == '<' || c == '>') return false;
    return true;
}

// Whitespace and chat special tokens (`<|eot_id|>`, `<end_of_turn>`, `</s>`, ...) at either end.
void strip_special(std::string_view t, size_t* b, size_t* e) {
    for (bool changed = true; changed;) {
        changed = false;
        *b = skip_space(t, *b, *e);
        *e = trim_end(t, *b, *e);
        if (*e > *b && t[*e - 1] == '>') {
            const size_t lt = t.substr(0, *e).rfind('<');
            if (lt != std::string_view::npos && lt >= *b && is_special_token(t.substr(lt, *e - lt))) {
                *e = lt;
                changed = true;
            }
        }
        if (*e > *b && t[*b] == '<') {
            const size_t gt = t.substr(0, *e).find('>', *b);
            if (gt != std::string_view::npos && is_special_token(t.substr(*b, gt + 1 - *b))) {
                *b = gt + 1;
                changed = true;
            }
        }
    }
}

}  // namespace

bool valid_utf8(std::string_view s, size_t* bad) {
    size_t k = 0;
    while (k < s.size()) {
        if (k + 8 <= s.size()) {  // 8 ASCII bytes at a time
            uint64_t word;
            std::memcpy(&word, s.data() + k, 8);
            if ((word & 0x8080808080808080ull) == 0) {
                k += 8;
                continue;
            }
        }
        const unsigned char c = (unsigned char)s[k];
        size_t n = 0;
        uint32_t cp = 0, min = 0;
        if (c < 0x80) {
            ++k;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            *bad = k;
            return false;
        }
        for (size_t m = 1; m <= n; ++m) {
            if (k + m >= s.size() || ((unsigned char)s[k + m] & 0xC0) != 0x80) {
                *bad = k;
                return false;
            }
            cp = (cp << 6) | ((unsigned char)s[k + m] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            *bad = k;
            return false;
        }
        k += n + 1;
    }
    return true;
}

bool format_from_name(std::string_view name, Format* out) {
    if (name == "auto") *out = Format::Auto;
    else if (name == "python") *out = Format::Python;
    else if (name == "json") *out = Format::Json;
    else if (name == "tool_call") *out = Format::Tagged;
    else if (name == "react") *out = Format::ReAct;
    else return false;
    return true;
}

bool parse_plain_call_list(std::string_view text, std::vector<ToolCall>* out) {
    return PyParser(text, 0).plain_single_list(out);
}

bool parse_python_expression(std::string_view text, size_t base, Expr* out, ParseError* err) {
    PyParser parser(text, base);
    if (parser.parse_single(out)) return true;
    *err = parser.error();
    return false;
}

bool parse_json(std::string_view text, size_t base, Value* out, ParseError* err) {
    JsonParser parser(text, base);
    size_t pos = 0;
    if (!parser.value_at(&pos, out)) {
        *err = parser.error();
        return false;
    }
    parser.skip_ws();
    if (parser.pos() != text.size()) {
        *err = {base + parser.pos(), "text after the JSON value"};
        return false;
    }
    return true;
}

ParseResult parse_tool_calls(std::string_view text, Format format) {
    ParseResult result;
    result.ok = true;
    Cursor cur{text, &result};
    if (text.size() > kMaxInputBytes) {
        cur.fail(0, "input longer than the limit");
        return result;
    }
    size_t bad = 0;
    if (!valid_utf8(text, &bad)) {
        cur.fail(bad, "invalid UTF-8");
        return result;
    }
    if (text.find('\0') != std::string_view::npos) {
        cur.fail(text.find('\0'), "null byte in the input");
        return result;
    }
    size_t b = 0, e = text.size();
    strip_special(text, &b, &e);
    switch (format) {
        case Format::Python: parse_python_calls(cur, b, e); break;
        case Format::Json: parse_json_calls(cur, b, e); break;
        case Format::Tagged: parse_tagged(cur, b, e); break;
        case Format::ReAct: parse_react(cur, b, e); break;
        case Format::Auto: {
            const bool tagged = text.substr(0, e).find("<tool_call>", b) != std::string_view::npos;
            if (!tagged && find_line_key(text, b, e, "Action:") == std::string_view::npos) {
                parse_plain(cur, b, e);
                break;
            }
            // A plain call or JSON that parses wins: "<tool_call>" or "Action:" inside its strings is text.
            ParseResult plain;
            plain.ok = true;
            Cursor plain_cur{text, &plain};
            if (parse_plain(plain_cur, b, e)) {
                result = std::move(plain);
                break;
            }
            if (tagged) parse_tagged(cur, b, e);
            else parse_react(cur, b, e);
            break;
        }
    }
    if (!result.ok) result.calls.clear();
    return result;
}

}  // namespace tl_fast
