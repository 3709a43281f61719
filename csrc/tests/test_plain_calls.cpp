// The parser's fast path (parse_plain_call_list) against the general grammar (parse_python_expression):
// wherever the fast path accepts a text, the general path must give the same calls, values and spans.
#include <random>
#include <string>

#include "check.h"
#include "toolcall.h"

using namespace tl_fast;

namespace {

// The value the general path's resolvers give a plain literal (Const, '-' number, list, tuple, dict), and a
// bare name the string of its name under BFCL's resolver (names).
bool literal_of(const Expr& e, Value* out, bool names = false) {
    switch (e.kind) {
        case Expr::Kind::Const: *out = e.value; return true;
        case Expr::Kind::Name:
            if (!names) return false;
            *out = Value::str(e.id);
            return true;
        case Expr::Kind::Unary:
            if (e.id != "-" || e.kids[0].kind != Expr::Kind::Const) return false;
            *out = e.kids[0].value;
            if (out->kind == Value::Kind::Int) out->i = -out->i;
            else if (out->kind == Value::Kind::Float) out->f = -out->f;
            else return false;
            return true;
        case Expr::Kind::List:
        case Expr::Kind::Tuple:
            out->kind = e.kind == Expr::Kind::List ? Value::Kind::List : Value::Kind::Tuple;
            out->items.resize(e.kids.size());
            for (size_t k = 0; k < e.kids.size(); ++k)
                if (!literal_of(e.kids[k], &out->items[k], names)) return false;
            return true;
        case Expr::Kind::Dict:
            out->kind = Value::Kind::Dict;
            for (size_t k = 0; k < e.kids.size(); ++k) {
                Value key, value;
                if (!literal_of(e.keys[k], &key, names) || !literal_of(e.kids[k], &value, names)) return false;
                out->set(std::move(key), std::move(value));
            }
            return true;
        default: return false;
    }
}

std::string dotted(const Expr& e) {
    return e.kind == Expr::Kind::Name ? e.id : dotted(e.kids[0]) + "." + e.id;
}

// py_repr tells list from tuple, bool from int and int from float: equal reprs are equal values.
// Returns whether the fast path accepted the text (only then is there anything to compare).
bool check_same_as_general(const std::string& text, bool names = false) {
    std::vector<ToolCall> plain;
    if (!parse_plain_call_list(text, &plain, names)) return false;
    Expr body;
    ParseError err;
    CHECK(parse_python_expression(text, 0, &body, &err));
    CHECK(body.kind == Expr::Kind::List);
    CHECK_EQ(body.kids.size(), plain.size());
    for (size_t c = 0; c < plain.size() && c < body.kids.size(); ++c) {
        const Expr& call = body.kids[c];
        CHECK(call.kind == Expr::Kind::Call);
        CHECK_EQ(plain[c].name, dotted(call.kids[0]));
        CHECK_EQ(plain[c].begin, call.begin);
        CHECK_EQ(plain[c].end, call.end);
        CHECK_EQ(plain[c].positional.size() + 1, call.kids.size());
        for (size_t k = 0; k < plain[c].positional.size() && k + 1 < call.kids.size(); ++k) {
            Value v;
            CHECK(literal_of(call.kids[k + 1], &v, names));
            CHECK_EQ(py_repr(plain[c].positional[k]), py_repr(v));
        }
        CHECK_EQ(plain[c].arguments.size(), call.keywords.size());
        for (size_t k = 0; k < plain[c].arguments.size() && k < call.keywords.size(); ++k) {
            Value v;
            CHECK_EQ(plain[c].arguments[k].first, call.keywords[k].first);
            CHECK(literal_of(call.keywords[k].second, &v, names));
            CHECK_EQ(py_repr(plain[c].arguments[k].second), py_repr(v));
        }
    }
    return true;
}

}  // namespace

TEST(plain_calls_common_shapes) {
    const char* accepted[] = {
        "[f(a=1)]",
        "[m.get_x(city='Paris, France', n=-3, r=.5e-1, t=(1,), g=(2), l=[1, [2, 'x']], d={'k': None, 1: True})]",
        "[f(1, 'a' \"b\", x=r'\\d', y=-0.0), g()]",
        "[ f ( a = 1 ,) ,\n g . h (b=\"\"\"q\nr\"\"\") , ]  # done",
        "[f(d={'a': 1, 'a': 2}, e={(1, 2): 'p'}, s='\\u00e9\\x41', n=1_000, h=0x1F)]",
        "[]",
    };
    for (const char* text : accepted) {
        std::vector<ToolCall> calls;
        CHECK(parse_plain_call_list(text, &calls));
        check_same_as_general(text);
    }
    // Other shapes are left to the general path (which accepts or rejects them).
    const char* declined[] = {"[f(a=x)]", "[f(a=1+2)]", "[f(a=1, a=2)]", "[f(a=1, 2)]", "[f(a=+1)]",
                              "[f(a=b'x')]", "[f(a={1})]", "[f(**k)]", "[f(a=1)][0]", "[f(a=1)] + 1",
                              "[f(a=-True)]", "[True(a=1)]", "[f(a=[1][0])]", "[f(a=f'{x}')]", "[f(a=1)(b=2)]",
                              "[f(if=1)]", "[f(a=1), 'x']", "[f(a=[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]])]"};
    for (const char* text : declined) {
        std::vector<ToolCall> calls;
        CHECK(!parse_plain_call_list(text, &calls));
    }
}

// Random texts from call-shaped fragments: wherever the fast path accepts, it agrees with the general path.
TEST(plain_calls_fuzz_against_general_path) {
    const char* pieces[] = {"[", "]", "(", ")", "{", "}", ",", ":", "=", "==", ".", "-", "+", "*", " ", "\n", "#c\n",
                            "\\\n", "f", "g.h", "a", "b", "x1", "True", "None", "false", "if", "1", "0", "007",
                            "2.5", ".5", "1e3", "1_0", "0x1f", "1j", "'s'", "\"t\"", "r'\\q'", "b'y'", "f'{z}'",
                            "'''m\nn'''", "'\\n\\x41'", "'é'", "'a' 'b'", ":=",
                            // non-ASCII names (the fast path leaves them to the general one), complex, slices
                            "\xC3\xA9", "\xEF\xAC\x81x", "x\xE4\xB8\xAD", "\xE2\x80\x8B", "1j", "u'z'", "[1:2]"};
    std::mt19937 rng(12345);
    const size_t n_pieces = sizeof(pieces) / sizeof(pieces[0]);
    int random_accepted = 0, seeded_accepted = 0;
    for (int iter = 0; iter < 40000; ++iter) {
        std::string text = "[f(";
        const int len = int(rng() % 12);
        for (int k = 0; k < len; ++k) text += pieces[rng() % n_pieces];
        text += rng() % 2 ? ")]" : ")";
        random_accepted += check_same_as_general(text);
        check_same_as_general(text, /*names=*/true);
        std::string seeded = "[f(a=" + std::string(pieces[rng() % n_pieces]) + "), g.h(b=[" +
                             std::string(pieces[rng() % n_pieces]) + "], c={" + pieces[rng() % n_pieces] + ": " +
                             pieces[rng() % n_pieces] + "})]";
        seeded_accepted += check_same_as_general(seeded);
        check_same_as_general(seeded, /*names=*/true);
    }
    // The comparison means something only where the fast path accepts (2,648 and 727 of 40,000 today).
    CHECK(random_accepted > 1000);
    CHECK(seeded_accepted > 300);
}

// BFCL's resolver reads a bare name as its string (models write f(flag=true)): with names_as_strings the fast
// path takes those calls too, and still leaves every other use of a name to the general path.
TEST(plain_calls_bfcl_names_as_strings) {
    const char* text = "[f(a=true, b=[x, None], c={k: v}, d=False)]";
    std::vector<ToolCall> calls;
    CHECK(!parse_plain_call_list(text, &calls));
    calls.clear();
    CHECK(parse_plain_call_list(text, &calls, true));
    CHECK(check_same_as_general(text, true));
    CHECK_EQ(py_repr(calls[0].arguments[0].second), std::string("'true'"));
    CHECK_EQ(py_repr(calls[0].arguments[2].second), std::string("{'k': 'v'}"));
    const char* declined[] = {"[f(a=x.y)]", "[f(a=x(1))]", "[f(a=x[0])]", "[f(a=not)]", "[f(a=lambda)]",
                              "[f(a=x if y else z)]", "[f(a=r)]  x", "[f(a=x + 1)]", "[f(a=-x)]"};
    for (const char* t : declined) {
        calls.clear();
        CHECK(!parse_plain_call_list(t, &calls, true));
    }
}

// Strings sliced out whole (no escape, no line break, a delimiter after them) and those left to string_run.
TEST(plain_calls_quoted_strings) {
    const char* texts[] = {"[f(a='x y', b=\"\", c='', d={'k': 'v'}, e=['p', \"q\"])]", "[f(a='x' 'y')]",
                           "[f(a='x'\n'y')]", "[f(a='''x''')]", "[f(a='\\'x')]", "[f(a='é\\n')]", "[f(a='x' )]",
                           "[f(a='x'# c\n)]", "[f(a=\"it's\")]", "[f(a='')]", "[f(a='''')]"};
    for (const char* t : texts) check_same_as_general(t);
    std::vector<ToolCall> calls;
    CHECK(parse_plain_call_list("[f(a='x y', b='')]", &calls));
    CHECK_EQ(calls[0].arguments[0].second.s, std::string("x y"));
    CHECK_EQ(calls[0].arguments[1].second.s, std::string(""));
    calls.clear();
    CHECK(parse_plain_call_list("[f(a='x' \"y\")]", &calls));
    CHECK_EQ(calls[0].arguments[0].second.s, std::string("xy"));
}
