// Parser unit tests (run under ASan + UBSan by `make ctest`), including a seeded mutation fuzz loop.
#include <random>
#include <string>

#include "bfcl.h"
#include "check.h"
#include "toolcall.h"

using namespace tl_fast;

TEST(python_call_values) {
    const auto r = parse_tool_calls("[m.f(1, -2.5, a=[1, (2,)], b={'k': None}, c=true, d='\\u00e9', e=0x10)]");
    CHECK(r.ok);
    CHECK_EQ(r.calls.size(), size_t(1));
    const ToolCall& c = r.calls[0];
    CHECK_EQ(c.name, std::string("m.f"));
    CHECK_EQ(c.positional.size(), size_t(2));
    CHECK(c.positional[1].kind == Value::Kind::Float && c.positional[1].f == -2.5);
    CHECK_EQ(c.arguments.size(), size_t(5));
    CHECK(c.arguments[0].second.kind == Value::Kind::List && c.arguments[0].second.items[1].kind == Value::Kind::Tuple);
    CHECK(c.arguments[2].second.kind == Value::Kind::Bool && c.arguments[2].second.b);
    CHECK_EQ(c.arguments[3].second.s, std::string("\xC3\xA9"));
    CHECK_EQ(c.arguments[4].second.i, int64_t(16));
    CHECK_EQ(c.begin, size_t(1));
}

TEST(formats) {
    CHECK(parse_tool_calls("f(a=1)\ng(b=2); h()").calls.size() == 3);
    CHECK(parse_tool_calls("{\"name\": \"f\", \"arguments\": {\"a\": 1}}").calls.size() == 1);
    CHECK(parse_tool_calls("<tool_call>{\"name\": \"f\"}</tool_call><tool_call>g()</tool_call>").calls.size() == 2);
    const auto react = parse_tool_calls("Thought: x\nAction: s\nAction Input: {\"q\": 1}\nObservation: y");
    CHECK(react.ok && react.calls[0].name == "s" && react.calls[0].arguments[0].second.i == 1);
    CHECK(parse_tool_calls("```python\nf(a=1)\n```<|eot_id|>").ok);
    CHECK(!parse_tool_calls("f(a=1)", Format::Json).ok);
}

TEST(errors_have_offsets) {
    const auto r = parse_tool_calls("f(a=1, b=zz)");
    CHECK(!r.ok);
    CHECK_EQ(r.error.offset, size_t(9));
    CHECK(!parse_tool_calls("f(x=1, x=2)").ok);
    CHECK(!parse_tool_calls("f(a=99999999999999999999)").ok);
    CHECK(!parse_tool_calls("f(a='\xff')").ok);
    CHECK(!parse_tool_calls(std::string(200, '[') + std::string(200, ']')).ok);
    CHECK(!parse_tool_calls("f(a=" + std::string(100000, '-') + "1)").ok);
    CHECK(!parse_tool_calls(std::string(kMaxInputBytes + 1, ' ')).ok);
}

TEST(bfcl_decoder_quirks) {
    std::vector<BfclCall> calls;
    CHECK(bfcl_decode("f(a=true, b=2**3, c=g(1), d=-1, e=h(x=1))", &calls));
    CHECK_EQ(calls.size(), size_t(1));
    const BfclCall& call = calls[0];
    CHECK_EQ(call.arg("a")->s, std::string("true"));
    CHECK_EQ(call.arg("b")->i, int64_t(8));
    CHECK_EQ(call.arg("c")->s, std::string("g(1)"));
    CHECK(call.arg("e")->kind == Value::Kind::Dict);
    calls.clear();
    CHECK(bfcl_decode("[f(a=1, b='x', a=2)]", &calls));  // a repeated keyword: first position, last value
    CHECK_EQ(calls[0].args.size(), size_t(2));
    CHECK_EQ(calls[0].args[0].first, std::string("a"));
    CHECK_EQ(calls[0].args[0].second.i, int64_t(2));
    calls.clear();
    CHECK(!bfcl_decode("[f(a=1)]<end_of_turn>", &calls));
    CHECK_EQ(bfcl_standardize("New York, NY"), std::string("newyorkny"));
}

TEST(py_repr_matches_python) {
    CHECK_EQ(py_repr(Value::real(0.1)), std::string("0.1"));
    CHECK_EQ(py_repr(Value::real(1e16)), std::string("1e+16"));
    CHECK_EQ(py_repr(Value::real(1e-05)), std::string("1e-05"));
    CHECK_EQ(py_repr(Value::real(100.0)), std::string("100.0"));
    CHECK_EQ(py_repr(Value::str("it's")), std::string("\"it's\""));
}

// Random edits of valid inputs: whatever comes out, it must come out cleanly (ASan/UBSan watch).
TEST(mutation_fuzz_never_crashes) {
    const std::string seeds[] = {
        "[f(a=1, b='x', c=[1, 2.5e-3, {'k': None}], d=(1,), e=-3)]",
        "g.h(\"p\", s='''t\nq''', u='\\u00e9\\x41', v=1_000, w=0x1F)\nk(z=.5)",
        "{\"name\": \"f\", \"arguments\": {\"a\": [1, {\"b\": \"\\ud83d\\ude00\"}]}}",
        "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call>",
        "Action: f\nAction Input: {\"a\": 1}\nObservation: ok",
    };
    const std::string palette = "()[]{},'\"=:;#\\ \n.-+eEjx0_1rub\t*\xc3\xa9";
    std::mt19937 rng(1234);
    size_t ok = 0, total = 0;
    for (int it = 0; it < 20000; ++it) {
        std::string text = seeds[rng() % 5];
        const int edits = 1 + int(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const size_t pos = rng() % (text.size() + 1);
            switch (rng() % 3) {
                case 0:
                    if (pos < text.size()) text.erase(pos, 1);
                    break;
                case 1: text.insert(pos, 1, palette[rng() % palette.size()]); break;
                default: text.insert(pos, text.substr(pos, 1 + rng() % 5)); break;
            }
        }
        const ParseResult r = parse_tool_calls(text);
        ok += r.ok;
        ++total;
        if (!r.ok) CHECK(r.error.offset <= text.size());
        std::vector<BfclCall> calls;
        bfcl_decode(text, &calls);
    }
    CHECK(ok > 0 && ok < total);
}
