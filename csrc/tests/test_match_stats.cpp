// ToolRL match statistics: key / value counts, the reference code's greedy pairing, threads.
#include <string>

#include "check.h"
#include "match_stats.h"

using namespace tl_fast;

namespace {

Value json_value(const std::string& text) {
    Value v;
    ParseError err;
    const bool ok = parse_json(text, 0, &v, &err);
    CHECK(ok);
    return v;
}

Problem problem(const std::string& gold) {
    Problem p;
    std::string error;
    const bool ok = build_problem(
        json_value(R"([{"name": "f", "parameters": {"properties": {"a": {}, "b": {}, "c": {}}}},
                       {"name": "g", "parameters": {"properties": {"q": {}}}}])"),
        json_value(gold), Protocol::TL, "", StringMatch::Exact, &p, &error);
    CHECK(ok);
    return p;
}

}  // namespace

TEST(match_stats_counts_keys_and_values) {
    const Problem p = problem(R"j("f(a=1, b=2)")j");
    MatchStats s = match_stats("f(1, b=3, c=4)", p);  // positional 1 binds to a
    CHECK(s.parsed);
    CHECK_EQ(s.pred_calls, 1);
    CHECK_EQ(s.common_names, 1);
    CHECK_EQ(s.gold[0].pred, 0);
    CHECK_EQ(s.gold[0].gold_keys, 2);
    CHECK_EQ(s.gold[0].pred_keys, 3);
    CHECK_EQ(s.gold[0].common_keys, 2);
    CHECK_EQ(s.gold[0].matched_values, 1);
    s = match_stats("g(q=1)", p);  // another tool: nothing pairs, the gold keys still count
    CHECK_EQ(s.common_names, 0);
    CHECK_EQ(s.gold[0].pred, -1);
    CHECK_EQ(s.gold[0].gold_keys, 2);
    CHECK(!match_stats("f(a=1", p).parsed);
}

TEST(match_stats_pairs_greedily_in_gold_order) {
    // gold 0 takes the better of two f calls (the second); gold 1 gets the one left
    const Problem p = problem(R"j(["f(a=1, b=2)", "f(a=1)"])j");
    const MatchStats s = match_stats("[f(a=1), f(a=1, b=2)]", p);
    CHECK_EQ(s.common_names, 2);
    CHECK_EQ(s.gold[0].pred, 1);
    CHECK_EQ(s.gold[0].matched_values, 2);
    CHECK_EQ(s.gold[1].pred, 0);
    CHECK_EQ(s.gold[1].matched_values, 1);
}

TEST(match_stats_threads_agree) {
    const Problem p = problem(R"j("f(a=1, b=2)")j");
    std::vector<std::string> owned;
    for (int k = 0; k < 500; ++k) owned.push_back("f(a=" + std::to_string(k % 3) + ", b=2)");
    std::vector<std::string_view> texts(owned.begin(), owned.end());
    std::vector<const Problem*> problems(texts.size(), &p);
    const auto one = match_stats_many(texts, problems, 1), four = match_stats_many(texts, problems, 4);
    for (size_t k = 0; k < texts.size(); ++k) CHECK_EQ(one[k].gold[0].matched_values, four[k].gold[0].matched_values);
    CHECK_EQ(one[1].gold[0].matched_values, 2);
}
