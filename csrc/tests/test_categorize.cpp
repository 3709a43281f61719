// Categorizer unit tests: the authors' reward mapping on hand-built cases, BFCL checker basics, threads.
#include <string>

#include "bfcl.h"
#include "categorize.h"
#include "check.h"

using namespace tl_fast;

namespace {

Value json(const std::string& text) {
    Value v;
    ParseError err;
    const bool ok = parse_json(text, 0, &v, &err);
    CHECK(ok);
    return v;
}

const RewardTable kTable = {-2, -2, -1.5, -1.5, -1.8, -1.3, -1.3, -1.0, -0.8, -0.5, -0.5, -0.25, 1, -2};

Problem weather(Protocol protocol = Protocol::TL, const std::string& gold = "\"get_weather(city='Paris', days=3)\"") {
    Problem p;
    std::string error;
    const bool ok = build_problem(
        json(R"([{"name": "get_weather", "parameters": {"properties": {"city": {"type": "string"},
                 "days": {"type": "integer"}, "unit": {"type": "string"}}, "required": ["city"]}},
                 {"name": "search", "parameters": {"properties": {"q": {"type": "string"}}}}])"),
        json(gold), protocol, "simple_python", StringMatch::Exact, &p, &error);
    CHECK(ok);
    return p;
}

}  // namespace

TEST(tl_categories_follow_the_authors_table) {
    const Problem p = weather();
    auto cat = [&](const char* text) { return categorize(text, p, kTable); };
    CHECK(cat("get_weather(city='Paris', days=3.0)").category == Category::Correct);
    CHECK_EQ(cat("get_weather(city='Paris', days=3.0)").reward, 1.0);
    CHECK(cat("get_weather(city='Paris', days=4)").category == Category::ValueError);
    CHECK(cat("get_weather(city='Paris')").category == Category::ParamMissing);
    CHECK(cat("get_weather(city='Paris', days=3, unit='C')").category == Category::ParamRedundant);
    CHECK(cat("get_weather(city='Paris', days=3, z=1)").category == Category::ParamHallucination);
    CHECK(cat("get_weather(city='Paris', unit='C')").category == Category::ParamRedundantMissing);
    CHECK(cat("get_weather(city='Paris', z=1)").category == Category::ParamHallucinationMissing);
    CHECK(cat("get_weather(city='Paris', days=3, unit='C', z=1)").category == Category::ParamHallucinationRedundant);
    CHECK_EQ(cat("get_weather(city='Paris', unit='C', z=1)").reward, -1.8);
    CHECK(cat("search(q='x')").category == Category::WrongTool);
    CHECK(cat("nope(q='x')").category == Category::ToolHallucination);
    CHECK(cat("nope(q=x)").category == Category::FormatError);
    CHECK(cat("[get_weather(city='Paris', days=3), search(q='x')]").category == Category::CountMismatch);
}

TEST(tl_equal_is_typed) {
    CHECK(tl_equal(Value::integer(1), Value::real(1.0), StringMatch::Exact));
    CHECK(!tl_equal(Value::boolean(true), Value::integer(1), StringMatch::Exact));
    CHECK(tl_equal(Value::str(" New  York "), Value::str("new york"), StringMatch::Normalize));
    CHECK(!tl_equal(Value::str("New York"), Value::str("new york"), StringMatch::Exact));
    CHECK(tl_equal(json("[1, [2]]"), Value::seq(Value::Kind::Tuple, {Value::integer(1), json("[2]")}), StringMatch::Exact));
}

TEST(bfcl_protocol_verdicts) {
    const Problem p = weather(Protocol::BFCL, R"([{"get_weather": {"city": ["Paris, France"], "days": [3, ""]}}])");
    CHECK(categorize("[get_weather(city='paris france')]", p, kTable).correct);
    const Verdict v = categorize("[get_weather(city='Rome')]", p, kTable);
    CHECK(!v.correct);
    CHECK_EQ(std::string(v.error_type), std::string("value_error:string"));
    CHECK_EQ(categorize("get_weather(city='Paris, France')<eos>", p, kTable).error_type,
             std::string("ast_decoder:decoder_failed"));
}

TEST(threads_give_the_same_verdicts) {
    const Problem p = weather();
    std::vector<std::string_view> texts;
    std::vector<const Problem*> problems;
    const char* preds[] = {"get_weather(city='Paris', days=3)", "get_weather(city='Paris')", "search(q=1)", "x("};
    for (int k = 0; k < 4000; ++k) texts.push_back(preds[k % 4]), problems.push_back(&p);
    const auto one = categorize_many(texts, problems, kTable, 1);
    const auto four = categorize_many(texts, problems, kTable, 4);
    CHECK_EQ(one.size(), texts.size());
    for (size_t k = 0; k < one.size(); ++k) CHECK(one[k].category == four[k].category);
    CHECK(one[3].category == Category::FormatError);
}
