// Match statistics for ToolRL's reward (see match_stats.h for the pairing and key rules).
#include "match_stats.h"
#include "parallel.h"

#include <algorithm>
#include <string>
#include <utility>

namespace tl_fast {

namespace {

// Keys of a predicted call in binding order (positional first, then keywords), each with its value; a key
// given twice (positionally and by keyword) keeps its first value.
std::vector<std::pair<std::string, const Value*>> bound_arguments(const ToolCall& call, const Problem& problem) {
    std::vector<std::pair<std::string, const Value*>> out;
    const ToolSchema* tool = problem.find_tool(call.name);
    auto add = [&](std::string name, const Value* v) {
        for (const auto& kv : out)
            if (kv.first == name) return;
        out.emplace_back(std::move(name), v);
    };
    for (size_t k = 0; k < call.positional.size(); ++k) {
        // '<' cannot start a parameter name, so an unbound positional argument never meets a gold key
        std::string name = tool && k < tool->params.size() ? tool->params[k].name : "<positional " + std::to_string(k) + ">";
        add(std::move(name), &call.positional[k]);
    }
    for (const auto& [name, value] : call.arguments) add(name, &value);
    return out;
}

bool accepted(const Value& v, const GoldParam& g, StringMatch mode) {
    for (const Value& a : g.accepted) {
        if (g.optional && a.kind == Value::Kind::Str && a.s.empty()) continue;  // BFCL's "may be omitted" marker
        if (tl_equal(v, a, mode)) return true;
    }
    return false;
}

CallMatch pair_stats(const std::vector<std::pair<std::string, const Value*>>& args, const GoldCall& gold,
                     StringMatch mode) {
    CallMatch m;
    m.pred_keys = int(args.size());
    for (const GoldParam& g : gold.params) {
        const Value* given = nullptr;
        for (const auto& kv : args)
            if (kv.first == g.name) given = kv.second;
        if (!given) {
            m.gold_keys += g.optional ? 0 : 1;
            continue;
        }
        ++m.gold_keys, ++m.common_keys;
        m.matched_values += accepted(*given, g, mode) ? 1 : 0;
    }
    return m;
}

// ToolRL's match_score on key sets: 1 when both are empty, 0 when one is, else |∩| / |∪|.
double jaccard(int common, int a, int b) {
    if (a == 0 && b == 0) return 1.0;
    if (a == 0 || b == 0) return 0.0;
    return double(common) / double(a + b - common);
}

}  // namespace

MatchStats match_stats(std::string_view prediction, const Problem& problem) {
    MatchStats out;
    out.gold_calls = int(problem.gold.size());
    const ParseResult parsed = parse_tool_calls(prediction);
    if (!parsed.ok || parsed.calls.empty()) return out;
    out.parsed = true;
    out.pred_calls = int(parsed.calls.size());
    std::vector<bool> name_used(parsed.calls.size(), false);
    for (const GoldCall& g : problem.gold)  // multiset intersection of names
        for (size_t i = 0; i < parsed.calls.size(); ++i)
            if (!name_used[i] && parsed.calls[i].name == g.name) {
                name_used[i] = true, ++out.common_names;
                break;
            }
    std::vector<std::vector<std::pair<std::string, const Value*>>> args;
    args.reserve(parsed.calls.size());
    for (const ToolCall& c : parsed.calls) args.push_back(bound_arguments(c, problem));
    std::vector<bool> used(parsed.calls.size(), false);
    for (const GoldCall& g : problem.gold) {
        CallMatch best = pair_stats({}, g, problem.string_match);  // unpaired: only the gold keys count
        double best_score = 0.0;
        for (size_t i = 0; i < parsed.calls.size(); ++i) {
            if (used[i] || parsed.calls[i].name != g.name) continue;
            CallMatch m = pair_stats(args[i], g, problem.string_match);
            const double score = jaccard(m.common_keys, m.gold_keys, m.pred_keys) + m.matched_values;
            if (score > best_score) best_score = score, best = m, best.pred = int(i);
        }
        if (best.pred >= 0) used[size_t(best.pred)] = true;
        out.gold.push_back(best);
    }
    return out;
}

std::vector<MatchStats> match_stats_many(const std::vector<std::string_view>& predictions,
                                         const std::vector<const Problem*>& problems, int num_threads) {
    const size_t n = predictions.size();
    std::vector<MatchStats> out(n);
    parallel_for(n, num_threads, [&](size_t k) { out[k] = match_stats(predictions[k], *problems[k]); });
    return out;
}

}  // namespace tl_fast
