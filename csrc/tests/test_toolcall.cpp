// Parser unit tests (run under ASan + UBSan by `make ctest`), including a seeded mutation fuzz loop.
#include <random>
#include <string>

#include "bfcl.h"
#include "check.h"
#include "toolcall.h"

using namespace tl_fast;

namespace {

std::string first_name(const std::string& text, Format format = Format::Auto) {
    const ParseResult r = parse_tool_calls(text, format);
    return r.ok && !r.calls.empty() ? r.calls[0].name : std::string(r.ok ? "<no call>" : "<error>");
}

std::string unparsed(const std::string& text) {
    Expr e;
    ParseError err;
    return parse_python_expression(text, 0, &e, &err) ? unparse(e) : "<error: " + err.reason + ">";
}

}  // namespace

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
    // One message, one response, Llama ';'-separated JSON, Mistral v3 and v13, <function=...>.
    CHECK_EQ(first_name("{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"type\": \"function\", "
                        "\"function\": {\"name\": \"f\", \"arguments\": \"{}\"}}]}"),
             std::string("f"));
    CHECK_EQ(first_name("{\"choices\": [{\"message\": {\"role\": \"assistant\", \"content\": \"g(x=1)\"}}]}"),
             std::string("g"));
    CHECK_EQ(parse_tool_calls("<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\"}<|eom_id|>").calls.size(),
             size_t(2));
    CHECK_EQ(first_name("[TOOL_CALLS] [{\"name\": \"calc\", \"arguments\": {\"x\": 1}}]</s>"), std::string("calc"));
    CHECK_EQ(first_name("[TOOL_CALLS]add[ARGS]{\"a\": 3.5}"), std::string("add"));
    CHECK_EQ(first_name("<function=trending_songs>{\"n\": 10}</function><|eot_id|>"), std::string("trending_songs"));
    CHECK_EQ(first_name("{\"name\": \"f\", \"arguments\": {}}", Format::Tagged), std::string("<error>"));
}

TEST(no_call_is_not_an_error) {
    for (const char* text : {"", "  <|eot_id|>", "[]", "I cannot answer that (no tool fits).", "None",
                             "{\"role\": \"assistant\", \"content\": \"Paris is sunny.\"}", "[TOOL_CALLS] []"}) {
        const ParseResult r = parse_tool_calls(text);
        CHECK(r.ok && r.calls.empty());
    }
    for (const char* text : {"f(a=", "Sure:\nget_weather(city=Paris)", "[f(a=1)", "{\"name\": 1}", "<tool_call>hi</tool_call>",
                             "[TOOL_CALLS]", "Action: f"})
        CHECK(!parse_tool_calls(text).ok);
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

// PEP 3131: names are XID_Start XID_Continue*, NFKC-normalized, as ast.parse gives them.
TEST(identifiers_follow_python) {
    CHECK_EQ(first_name("\xEF\xAC\x81(a=1)"), std::string("fi"));                // U+FB01 LATIN SMALL LIGATURE FI
    CHECK_EQ(first_name("\xE2\x84\x8C(a=1)"), std::string("H"));                 // U+210C BLACK-LETTER H
    CHECK_EQ(first_name("e\xCC\x81(a=1)"), std::string("\xC3\xA9"));             // e + U+0301 composes to U+00E9
    CHECK_EQ(first_name("\xE1\x84\x80\xE1\x85\xA1(a=1)"), std::string("\xEA\xB0\x80"));  // jamo compose to U+AC00
    CHECK_EQ(first_name("\xE4\xB8\xAD\xE6\x96\x87(a=1)"), std::string("\xE4\xB8\xAD\xE6\x96\x87"));  // CJK as is
    CHECK_EQ(first_name("[rotateEImageAction(de\xF0\x9F\x98\x80grees=30)]"), std::string("<error>"));  // U+1F600
    CHECK_EQ(first_name("f\xE2\x80\x8B(a=1)"), std::string("<error>"));          // U+200B ZERO WIDTH SPACE
    CHECK_EQ(first_name("\xCC\x81x(a=1)"), std::string("<error>"));              // starts with a combining mark
    const ParseResult kw = parse_tool_calls("f(\xEF\xBD\x89\xEF\xBD\x86=1)");     // fullwidth "if" is a name
    CHECK(kw.ok && kw.calls[0].arguments[0].first == "if");
}

TEST(python_grammar_beyond_literals) {
    // Syntax ast.parse accepts parses (BFCL drops positional arguments); only literals are values.
    std::vector<BfclCall> calls;
    CHECK(bfcl_decode("[f(teams[\"a\", x: \"b\"], 2j, lambda x, *a: x, [y for y in z if y], d=1)]", &calls));
    CHECK(calls.size() == 1 && calls[0].arguments.size() == 1);
    CHECK(!parse_tool_calls("f(a=1j)").ok);
    CHECK(!bfcl_decode("[f(x for x in y, a=1)]", &calls));
    CHECK(!bfcl_decode("[f(a=1, **k)]", &calls));
    CHECK(!bfcl_decode("[f(f'{a b}')]", &calls));
    CHECK(bfcl_decode("[f(f'{a!r:>{w}}', a=1)]", &calls));
    CHECK_EQ(unparsed("g(x for x in y)"), std::string("g((x for x in y))"));
    CHECK_EQ(unparsed("a[1:2, ::3]"), std::string("a[1:2, ::3]"));
    CHECK_EQ(unparsed("(lambda x=1, *, y: x)(1e999, 1j, b'\\x00', u'z')"),
             std::string("(lambda x=1, *, y: x)(1e309, 1j, b'\\x00', u'z')"));
    CHECK_EQ(unparsed("f((x := 1 + 2), 'a\\u200bb')"), std::string("f((x := (1 + 2)), 'a\\u200bb')"));
    CHECK_EQ(unparsed("[1if x else-2, 1 .real, not a or b and c]"), std::string("[1 if x else -2, 1 .real, not a or (b and c)]"));
}

TEST(bfcl_decoder_quirks) {
    std::vector<BfclCall> calls;
    CHECK(bfcl_decode("f(a=true, b=2**3, c=g(1), d=-1, e=h(x=1))", &calls));
    CHECK_EQ(calls.size(), size_t(1));
    const BfclCall& call = calls[0];
    CHECK_EQ(call.argument("a")->s, std::string("true"));
    CHECK_EQ(call.argument("b")->i, int64_t(8));
    CHECK_EQ(call.argument("c")->s, std::string("g(1)"));
    CHECK(call.argument("e")->kind == Value::Kind::Dict);
    calls.clear();
    CHECK(bfcl_decode("[f(a=1, b='x', a=2)]", &calls));  // a repeated keyword: first position, last value
    CHECK_EQ(calls[0].arguments.size(), size_t(2));
    CHECK_EQ(calls[0].arguments[0].first, std::string("a"));
    CHECK_EQ(calls[0].arguments[0].second.i, int64_t(2));
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
    CHECK_EQ(py_repr(Value::str("\xE2\x80\x8B\xC2\xA0\x7F\xE4\xB8\xAD")), std::string("'\\u200b\\xa0\\x7f\xE4\xB8\xAD'"));
}

// Random edits of valid inputs in every format, non-ASCII and format markers included: whatever comes out, it must
// come out cleanly (ASan/UBSan watch) with an in-range offset.
TEST(mutation_fuzz_never_crashes) {
    const std::string seeds[] = {
        "[f(a=1, b='x', c=[1, 2.5e-3, {'k': None}], d=(1,), e=-3)]",
        "g.h(\"p\", s='''t\nq''', u='\\u00e9\\x41', v=1_000, w=0x1F)\nk(z=.5)",
        "{\"name\": \"f\", \"arguments\": {\"a\": [1, {\"b\": \"\\ud83d\\ude00\"}]}}",
        "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call>",
        "Action: f\nAction Input: {\"a\": 1}\nObservation: ok",
        "{\"choices\": [{\"message\": {\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"f\"}}]}}]}",
        "<|python_tag|>{\"name\": \"a\", \"parameters\": {\"x\": 1}}; b.call(q=\"z\")<|eom_id|>",
        "[TOOL_CALLS]add[ARGS]{\"a\": 1}[TOOL_CALLS] [{\"name\": \"b\", \"arguments\": {}}]",
        "[f(x[1:2], lambda y: y, [z for z in w], 3j, f'{q!r}', k=1)]",
    };
    const std::string pieces[] = {"(", ")", "[", "]", "{", "}", ",", "'", "\"", "=", ":", ";", "#", "\\", " ", "\n",
                                  ".", "-", "+", "*", "e", "j", "x", "0", "_", "1", "r", "u", "b", "f", "\t",
                                  "\xC3\xA9", "\xC3\x9F", "\xCE\x91", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xE2\x80\x8B",
                                  "\xEF\xAC\x81", "\xCC\x81", "<tool_call>", "[TOOL_CALLS]", "[ARGS]", "<|python_tag|>",
                                  "Action: ", "```", " for ", " in ", " if ", "lambda ", ":="};
    std::mt19937 rng(1234);
    size_t ok = 0, total = 0;
    for (int it = 0; it < 20000; ++it) {
        std::string text = seeds[rng() % (sizeof seeds / sizeof seeds[0])];
        const int edits = 1 + int(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const size_t pos = rng() % (text.size() + 1);
            switch (rng() % 3) {
                case 0:
                    if (pos < text.size()) text.erase(pos, 1);
                    break;
                case 1: text.insert(pos, pieces[rng() % (sizeof pieces / sizeof pieces[0])]); break;
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
