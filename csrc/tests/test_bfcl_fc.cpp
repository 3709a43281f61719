// BFCL function-calling mode, relevance categories and the "irrelevant" outcome, on hand-built cases that
// follow BFCL's OpenAICompletionsHandler.decode_ast and eval_runner (see bfcl.h).
#include <string>

#include "bfcl.h"
#include "categorize.h"
#include "check.h"

using namespace tl_fast;

namespace {

using S = BfclDecoded::Status;

Value json(const std::string& text) {
    Value v;
    ParseError err;
    const bool ok = parse_json(text, 0, &v, &err);
    CHECK(ok);
    return v;
}

const RewardTable kTable = {-2, -2, -1.5, -1.5, -1.8, -1.3, -1.3, -1.0, -0.8, -0.5, -0.5, -0.25, 1, -0.7};
const char* kTools = R"([{"name": "math.factorial", "parameters": {"type": "dict",
    "properties": {"number": {"type": "integer"}}, "required": ["number"]}},
    {"name": "search", "parameters": {"type": "dict", "properties": {"q": {"type": "string"}}}}])";

Problem problem(const std::string& category, const std::string& gold, BfclMode mode, bool dots) {
    Problem p;
    std::string error;
    const bool ok = build_problem(json(kTools), json(gold), Protocol::BFCL, category, StringMatch::Exact,
                                  BfclOptions{mode, dots}, &p, &error);
    CHECK(ok);
    return p;
}

}  // namespace

TEST(fc_decode_follows_the_openai_handler) {
    BfclDecoded d = bfcl_decode_fc(R"([{"math_factorial": "{\"number\": 5}"}, {"search": "{}"}])");
    CHECK(d.status == S::Calls);
    CHECK_EQ(d.calls.size(), size_t(2));
    CHECK_EQ(d.calls[0].name, std::string("math_factorial"));
    CHECK(d.calls[0].argument("number") && d.calls[0].argument("number")->i == 5);
    CHECK(bfcl_decode_fc(R"([{"f": "{\"a\": 1"}])").status == S::Failed);      // json.loads raises
    CHECK(bfcl_decode_fc(R"([{"f": {"a": 1}}])").status == S::Failed);          // TypeError: not a str
    CHECK(bfcl_decode_fc(R"([{}])").status == S::Failed);                        // IndexError
    CHECK(bfcl_decode_fc(R"([{"f": "[1]"}])").status == S::WrongFormat);        // params not a dict
    CHECK(bfcl_decode_fc(R"([{"f": "[1]"}, {"g": "{"}])").status == S::Failed);  // the loop raises first
    const BfclDecoded text = bfcl_decode_fc(R"("I cannot")");
    CHECK(text.status == S::Failed && text.message);
    const BfclDecoded empty = bfcl_decode_fc(R"("")");
    CHECK(empty.status == S::Calls && empty.calls.empty() && empty.message);
    CHECK(bfcl_decode_fc("plain prose").message);
    CHECK(!bfcl_decode_fc(R"([{"f": "{}")").message);  // a result cut short is no message
    CHECK(bfcl_decode_fc("null").status == S::Failed);
    CHECK(bfcl_decode_fc("{}").status == S::Calls);  // iterating an empty dict
}

TEST(fc_decode_reads_openai_shapes) {
    const char* message = R"({"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type":
        "function", "function": {"name": "search", "arguments": "{\"q\": \"x\"}"}}]})";
    BfclDecoded d = bfcl_decode_fc(message);
    CHECK(d.status == S::Calls && d.calls.size() == 1 && d.calls[0].name == "search");
    d = bfcl_decode_fc(std::string(R"({"choices": [{"message": )") + message + "}]}");
    CHECK(d.status == S::Calls && d.calls.size() == 1);
    d = bfcl_decode_fc(R"([{"function": {"name": "search", "arguments": {"q": "x"}}}])");
    CHECK(d.status == S::Calls && d.calls[0].argument("q")->s == "x");
    d = bfcl_decode_fc(R"({"role": "assistant", "content": "no call", "tool_calls": []})");
    CHECK(d.status == S::Failed && d.message);
    CHECK(bfcl_decode_fc(R"([{"function": {"name": "search"}}])").status == S::Failed);  // no arguments
}

TEST(fc_checker_maps_dots_like_convert_func_name) {
    const std::string gold = R"([{"math.factorial": {"number": [5]}}])";
    const Problem with = problem("simple_python", gold, BfclMode::FC, true);
    const Problem without = problem("simple_python", gold, BfclMode::FC, false);
    const std::string under = R"([{"math_factorial": "{\"number\": 5}"}])";
    const std::string dotted = R"([{"math.factorial": "{\"number\": 5}"}])";
    CHECK(categorize(under, with, kTable).correct);
    CHECK(!categorize(dotted, with, kTable).correct);
    CHECK(categorize(dotted, without, kTable).correct);
    const Verdict v = categorize(under, without, kTable);
    CHECK_EQ(std::string(v.error_type), std::string("simple_function_checker:wrong_func_name"));
    CHECK(v.category == Category::ToolHallucination);
    const Verdict text = categorize(R"("I cannot")", with, kTable);
    CHECK_EQ(std::string(text.error_type), std::string("ast_decoder:decoder_failed"));
    CHECK(text.category == Category::Irrelevant);
    CHECK_EQ(text.reward, -0.7);
    CHECK_EQ(categorize(R"([{"math_factorial": "[5]"}])", with, kTable).error_type,
             std::string("ast_decoder:decoder_wrong_output_format"));
}

TEST(relevance_categories) {
    const Problem irr = problem("live_irrelevance", "null", BfclMode::Prompt, false);
    CHECK(irr.expect == Expect::NoCall);
    CHECK(categorize("I cannot help", irr, kTable).correct);
    CHECK(categorize("[]", irr, kTable).correct);
    Verdict v = categorize("[search(q='x')]", irr, kTable);
    CHECK(!v.correct && v.category == Category::WrongTool);
    CHECK_EQ(std::string(v.error_type), std::string("irrelevance_error:decoder_success"));
    CHECK(categorize("[lookup(q='x')]", irr, kTable).category == Category::ToolHallucination);
    const Problem rel = problem("live_relevance", "[]", BfclMode::Prompt, false);
    CHECK(rel.expect == Expect::AnyCall);
    CHECK(categorize("[lookup(q='x')]", rel, kTable).correct);  // any call counts
    v = categorize("[]", rel, kTable);
    CHECK(!v.correct && v.category == Category::Irrelevant);
    CHECK_EQ(std::string(v.error_type), std::string("relevance_error:decoder_failed"));
    Problem bad;
    std::string error;
    CHECK(!build_problem(json(kTools), json(R"([{"search": {"q": ["x"]}}])"), Protocol::BFCL, "irrelevance",
                         StringMatch::Exact, &bad, &error));
    CHECK(error.find("no possible answer") != std::string::npos);
}

TEST(tl_no_call_is_irrelevant_or_correct) {
    Problem calls, none;
    std::string error;
    CHECK(build_problem(json(kTools), json(R"j("search(q='x')")j"), Protocol::TL, "", StringMatch::Exact, &calls,
                        &error));
    CHECK(build_problem(json(kTools), json("[]"), Protocol::TL, "", StringMatch::Exact, &none, &error));
    CHECK(none.expect == Expect::NoCall);
    CHECK(categorize("[]", calls, kTable).category == Category::Irrelevant);
    CHECK_EQ(categorize("[]", calls, kTable).reward, -0.7);
    CHECK(categorize("[]", none, kTable).correct);
    CHECK(categorize("search(q='x')", none, kTable).category == Category::WrongTool);
    CHECK(categorize("lookup(q='x')", none, kTable).category == Category::ToolHallucination);
    CHECK(categorize("search(q=", none, kTable).category == Category::FormatError);
    CHECK_EQ(std::string(category_name(Category::Irrelevant)), std::string("irrelevant"));
}

TEST(fc_decode_survives_mutated_input) {  // under ASan/UBSan in CI: any out-of-bounds read fails here
    const std::string seeds[] = {
        R"([{"math_factorial": "{\"number\": 5}"}, {"search": "{\"q\": \"a\"}"}])",
        R"({"choices": [{"message": {"role": "assistant", "tool_calls": [{"function": {"name": "search",
            "arguments": "{\"q\": [1, {\"b\": null}]}"}}]}}]})",
        R"(["text", "more"])",
    };
    const char* palette[] = {"\"", "\\", "{", "}", "[", "]", ":", ",", "\\u", "\xc3\xa9", "\xf0\x9f\x98\x80",
                             "9e999"};
    const Problem p = problem("parallel", R"([{"search": {"q": ["a"]}}, {"math.factorial": {"number": [5]}}])",
                              BfclMode::FC, true);
    uint64_t state = 42;
    auto next = [&](uint64_t n) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return size_t((state >> 33) % n);
    };
    size_t decoded = 0;
    for (int k = 0; k < 20000; ++k) {
        std::string text = seeds[next(3)];
        for (int e = 0, edits = int(next(3)) + 1; e < edits; ++e) {
            const size_t pos = next(text.size() + 1);
            if (next(2) && !text.empty()) text.erase(pos < text.size() ? pos : text.size() - 1, 1);
            else text.insert(pos, palette[next(12)]);
        }
        const BfclDecoded d = bfcl_decode_fc(text);
        decoded += d.status == S::Calls;
        const Verdict v = categorize(text, p, kTable);
        CHECK(v.correct == (v.category == Category::Correct));
    }
    CHECK(decoded > 1000);
}
