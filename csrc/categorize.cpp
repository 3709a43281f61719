// TL-Training's error categories and rewards (protocol "tl"), problem building, and the threaded batch.
//
// The category of one predicted call against one gold call follows the authors' reward code
// (Junjie-Ye/TL-Training, code/irm/dschat/rlhf/ppo_trainer.py, test_answer_for_reward):
//   name not offered -> tool hallucination; name != gold -> wrong tool; then with
//   H = a parameter not in the tool's schema, R = in the schema but not in the gold call,
//   M = a gold parameter not given:
//   H&R&M -> -1.8, H&(R|M) -> -1.3, R&M -> -1.0, H -> -0.8, R|M -> -0.5, a differing value -> -0.25, else +1.
// Several calls: counts must match, then calls are paired one-to-one (order-free) to maximize the total
// reward; the verdict is that of the worst pair.
#include "categorize.h"

#include <algorithm>

#include "bfcl.h"
#include "parallel.h"

namespace tl_fast {

const char* category_name(Category c) {
    switch (c) {
        case Category::FormatError: return "format_error";
        case Category::ToolHallucination: return "tool_hallucination";
        case Category::WrongTool: return "wrong_tool";
        case Category::CountMismatch: return "count_mismatch";
        case Category::ParamHallucinationRedundantMissing: return "param_hallucination+param_redundant+param_missing";
        case Category::ParamHallucinationRedundant: return "param_hallucination+param_redundant";
        case Category::ParamHallucinationMissing: return "param_hallucination+param_missing";
        case Category::ParamRedundantMissing: return "param_redundant+param_missing";
        case Category::ParamHallucination: return "param_hallucination";
        case Category::ParamRedundant: return "param_redundant";
        case Category::ParamMissing: return "param_missing";
        case Category::ValueError: return "value_error";
        case Category::Correct: return "correct";
        case Category::Irrelevant: return "irrelevant";
    }
    return "unknown";
}

const ParamSchema* ToolSchema::find(const std::string& param) const {
    for (const auto& p : params)
        if (p.name == param) return &p;
    return nullptr;
}

const GoldParam* GoldCall::find(const std::string& param) const {
    for (const auto& p : params)
        if (p.name == param) return &p;
    return nullptr;
}

const ToolSchema* Problem::find_tool(const std::string& name) const {
    for (const auto& t : tools)
        if (t.name == name) return &t;
    return nullptr;
}

const ToolSchema* Problem::find_bfcl_tool(const std::string& called) const {
    for (const auto& t : tools)
        if (t.bfcl_name == called) return &t;
    return nullptr;
}

// ---------------------------------------------------------------------------------------------------
// Building a problem
// ---------------------------------------------------------------------------------------------------

namespace {

bool build_tool(const Value& v, ToolSchema* out, std::string* error) {
    const Value* tool = &v;
    if (tool->kind == Value::Kind::Dict && !tool->get("name") && tool->get("function")) tool = tool->get("function");
    const Value* name = tool->get("name");
    if (!name || name->kind != Value::Kind::Str) return *error = "every tool needs a string 'name'", false;
    out->name = name->s;
    const Value* params = tool->get("parameters");
    if (!params || params->kind != Value::Kind::Dict) return true;  // a tool without parameters
    if (const Value* props = params->get("properties"); props && props->kind == Value::Kind::Dict) {
        for (size_t k = 0; k < props->keys.size(); ++k) {
            ParamSchema p;
            p.name = props->keys[k].s;
            const Value& spec = props->items[k];
            if (const Value* t = spec.get("type"); t && t->kind == Value::Kind::Str) p.type = t->s;
            if (const Value* items = spec.get("items"))
                if (const Value* it = items->get("type"); it && it->kind == Value::Kind::Str)
                    p.item_type = it->s, p.has_item_type = true;
            out->params.push_back(std::move(p));
        }
    }
    if (const Value* req = params->get("required"); req && req->kind == Value::Kind::List)
        for (const Value& r : req->items)
            if (r.kind == Value::Kind::Str) out->required.push_back(r.s);
    return true;
}

bool gold_from_call(const ToolCall& call, const Problem& problem, GoldCall* out, std::string* error) {
    out->name = call.name;
    for (const auto& [name, value] : call.arguments) out->params.push_back({name, {value}, false});
    if (!call.positional.empty()) {
        const ToolSchema* tool = problem.find_tool(call.name);
        if (!tool || call.positional.size() > tool->params.size())
            return *error = "gold call '" + call.name + "' has positional arguments that match no schema", false;
        for (size_t k = 0; k < call.positional.size(); ++k)
            out->params.push_back({tool->params[k].name, {call.positional[k]}, false});
    }
    return true;
}

bool add_gold(const Value& g, Problem* problem, std::string* error) {
    if (g.kind == Value::Kind::Str) {
        ParseResult parsed = parse_tool_calls(g.s);
        if (!parsed.ok) return *error = "gold call does not parse: " + parsed.error.reason, false;
        for (const ToolCall& call : parsed.calls) {
            GoldCall gc;
            if (!gold_from_call(call, *problem, &gc, error)) return false;
            problem->gold.push_back(std::move(gc));
        }
        return true;
    }
    if (g.kind == Value::Kind::List) {
        for (const Value& item : g.items)
            if (!add_gold(item, problem, error)) return false;
        return true;
    }
    if (g.kind != Value::Kind::Dict) return *error = "gold must be a call string, a dict or a list", false;
    const Value* fn = g.get("function");
    const Value* name = g.get("name") ? g.get("name") : fn && fn->kind == Value::Kind::Dict ? fn->get("name") : nullptr;
    if (name && name->kind == Value::Kind::Str) {  // a call object, read as the parser reads one
        ToolCall call;
        std::string reason;
        if (!read_call_object(g, &call, &reason)) return *error = "gold call: " + reason, false;
        GoldCall gc;
        gc.name = call.name;
        for (auto& [param, value] : call.arguments) gc.params.push_back({param, {std::move(value)}, false});
        problem->gold.push_back(std::move(gc));
        return true;
    }
    // BFCL possible answer: {function name: {parameter: [acceptable values; "" = may be omitted]}}
    if (g.keys.size() == 1 && g.keys[0].kind == Value::Kind::Str && g.items[0].kind == Value::Kind::Dict) {
        GoldCall gc;
        gc.name = g.keys[0].s;
        const Value& params = g.items[0];
        for (size_t k = 0; k < params.keys.size(); ++k) {
            GoldParam p;
            p.name = params.keys[k].s;
            const Value& options = params.items[k];
            p.accepted = options.kind == Value::Kind::List ? options.items : std::vector<Value>{options};
            for (const Value& o : p.accepted)
                if (o.kind == Value::Kind::Str && o.s.empty()) p.optional = true;
            gc.params.push_back(std::move(p));
        }
        problem->gold.push_back(std::move(gc));
        return true;
    }
    return *error = "gold dict must have 'name' (+ 'arguments') or be BFCL's {name: {param: [values]}}", false;
}

}  // namespace

bool build_problem(const Value& tools, const Value& gold, Protocol protocol, std::string bfcl_category,
                   StringMatch string_match, Problem* out, std::string* error) {
    return build_problem(tools, gold, protocol, std::move(bfcl_category), string_match, BfclOptions{}, out, error);
}

bool build_problem(const Value& tools, const Value& gold, Protocol protocol, std::string bfcl_category,
                   StringMatch string_match, const BfclOptions& bfcl, Problem* out, std::string* error) {
    out->protocol = protocol;
    out->bfcl_category = std::move(bfcl_category);
    out->string_match = string_match;
    out->bfcl = bfcl;
    if (tools.kind != Value::Kind::List) return *error = "tools must be a list of tool schemas", false;
    for (const Value& t : tools.items) {
        ToolSchema schema;
        if (!build_tool(t, &schema, error)) return false;
        out->tools.push_back(std::move(schema));
    }
    if (protocol == Protocol::BFCL && out->bfcl_category.empty()) out->bfcl_category = "simple_python";
    const bool empty_gold = gold.kind == Value::Kind::List && gold.items.empty();
    if (protocol == Protocol::BFCL && bfcl_relevance_category(out->bfcl_category)) {
        // BFCL scores these by whether the model calls at all; there is no possible answer to compare.
        if (gold.kind != Value::Kind::None && !empty_gold)
            return *error = "BFCL category '" + out->bfcl_category + "' has no possible answer; pass gold=None or []",
                   false;
        out->expect = out->bfcl_category.find("irrelevance") != std::string::npos ? Expect::NoCall : Expect::AnyCall;
    } else if (protocol == Protocol::TL && empty_gold) {
        out->expect = Expect::NoCall;
    } else {
        if (!add_gold(gold, out, error)) return false;
        if (out->gold.empty()) return *error = "gold holds no call", false;
    }
    if (protocol == Protocol::BFCL) bfcl_prepare(out);
    return true;
}

// ---------------------------------------------------------------------------------------------------
// TL protocol
// ---------------------------------------------------------------------------------------------------

namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string normalize(const std::string& s) {
    std::string out;
    bool pending_space = false;
    for (char c : s) {
        if (space(c)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out += ' ';
        pending_space = false;
        out += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
    }
    return out;
}

}  // namespace

bool tl_equal(const Value& a, const Value& b, StringMatch mode) {
    using K = Value::Kind;
    if ((a.kind == K::Int || a.kind == K::Float) && (b.kind == K::Int || b.kind == K::Float))
        return (a.kind == K::Int && b.kind == K::Int) ? a.i == b.i : a.as_double() == b.as_double();
    if (a.is_seq() && b.is_seq()) {
        if (a.items.size() != b.items.size()) return false;
        for (size_t k = 0; k < a.items.size(); ++k)
            if (!tl_equal(a.items[k], b.items[k], mode)) return false;
        return true;
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case K::None: return true;
        case K::Bool: return a.b == b.b;
        case K::Str: return mode == StringMatch::Exact ? a.s == b.s : normalize(a.s) == normalize(b.s);
        case K::Dict:
            if (a.keys.size() != b.keys.size()) return false;
            for (size_t k = 0; k < a.keys.size(); ++k) {
                bool found = false;
                for (size_t m = 0; m < b.keys.size() && !found; ++m)
                    if (tl_equal(a.keys[k], b.keys[m], mode)) found = tl_equal(a.items[k], b.items[m], mode);
                if (!found) return false;
            }
            return true;
        default: return false;
    }
}

Category categorize_pair(const ToolCall& pred, const GoldCall& gold, const Problem& problem) {
    const ToolSchema* tool = problem.find_tool(pred.name);
    if (!tool) return Category::ToolHallucination;
    if (pred.name != gold.name) return Category::WrongTool;
    // Positional arguments take the schema's parameter names in order; extras are hallucinated.
    std::vector<std::pair<const std::string*, const Value*>> args;
    std::vector<std::string> positional_names;
    positional_names.reserve(pred.positional.size());
    bool hallucinated = false;
    for (size_t k = 0; k < pred.positional.size(); ++k) {
        if (k < tool->params.size()) positional_names.push_back(tool->params[k].name);
        else positional_names.push_back("<positional " + std::to_string(k) + ">"), hallucinated = true;
        args.emplace_back(&positional_names.back(), &pred.positional[k]);
    }
    for (const auto& [name, value] : pred.arguments) {
        for (size_t k = 0; k < positional_names.size(); ++k)
            if (positional_names[k] == name) hallucinated = true;  // given twice: not a valid call of the schema
        args.emplace_back(&name, &value);
    }
    bool redundant = false, missing = false;
    for (const auto& [name, value] : args) {
        if (!tool->find(*name)) hallucinated = true;
        else if (!gold.find(*name)) redundant = true;
    }
    for (const GoldParam& g : gold.params) {
        if (g.optional) continue;
        bool given = false;
        for (const auto& a : args) given = given || *a.first == g.name;
        missing = missing || !given;
    }
    if (hallucinated && redundant && missing) return Category::ParamHallucinationRedundantMissing;
    if (hallucinated && redundant) return Category::ParamHallucinationRedundant;
    if (hallucinated && missing) return Category::ParamHallucinationMissing;
    if (redundant && missing) return Category::ParamRedundantMissing;
    if (hallucinated) return Category::ParamHallucination;
    if (redundant) return Category::ParamRedundant;
    if (missing) return Category::ParamMissing;
    for (const auto& [name, value] : args) {
        const GoldParam* g = gold.find(*name);
        bool ok = false;
        for (const Value& accepted : g->accepted) {
            if (g->optional && accepted.kind == Value::Kind::Str && accepted.s.empty()) continue;
            if (tl_equal(*value, accepted, problem.string_match)) {
                ok = true;
                break;
            }
        }
        if (!ok) return Category::ValueError;
    }
    return Category::Correct;
}

namespace {

Verdict verdict_of(Category c, const RewardTable& table) {
    Verdict v;
    v.category = c;
    v.correct = c == Category::Correct;
    v.reward = table[size_t(c)];
    return v;
}

Verdict categorize_tl(std::string_view prediction, const Problem& problem, const RewardTable& table) {
    const ParseResult parsed = parse_tool_calls(prediction);
    if (!parsed.ok) return verdict_of(Category::FormatError, table);
    if (parsed.calls.empty())  // no call: right when none was wanted, else an abstention
        return verdict_of(problem.expect == Expect::NoCall ? Category::Correct : Category::Irrelevant, table);
    for (const ToolCall& call : parsed.calls)
        if (!problem.find_tool(call.name)) return verdict_of(Category::ToolHallucination, table);
    // A call where none was wanted: every offered tool is the wrong one.
    if (problem.expect == Expect::NoCall) return verdict_of(Category::WrongTool, table);
    const size_t n = parsed.calls.size();
    if (n != problem.gold.size()) return verdict_of(Category::CountMismatch, table);
    if (n == 1) return verdict_of(categorize_pair(parsed.calls[0], problem.gold[0], problem), table);
    // cat[i][j]: prediction i against gold j. Exact assignment by DP over subsets up to 12 calls.
    std::vector<std::vector<Category>> cat(n, std::vector<Category>(n));
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) cat[i][j] = categorize_pair(parsed.calls[i], problem.gold[j], problem);
    auto reward = [&](size_t i, size_t j) { return table[size_t(cat[i][j])]; };
    std::vector<size_t> match(n);
    if (n <= 12) {
        const size_t full = (size_t(1) << n) - 1;
        std::vector<double> best(full + 1, -1e300);
        std::vector<int> choice(full + 1, -1);
        best[0] = 0;
        for (size_t mask = 0; mask < full; ++mask) {
            if (best[mask] == -1e300) continue;
            const size_t i = size_t(__builtin_popcountll(mask));  // next prediction to place
            for (size_t j = 0; j < n; ++j) {
                if (mask & (size_t(1) << j)) continue;
                const size_t next = mask | (size_t(1) << j);
                const double r = best[mask] + reward(i, j);
                if (r > best[next]) best[next] = r, choice[next] = int(j);
            }
        }
        for (size_t mask = full, i = n; i-- > 0;) {
            match[i] = size_t(choice[mask]);
            mask &= ~(size_t(1) << match[i]);
        }
    } else {  // greedy beyond 12 calls: best remaining pair first
        std::vector<bool> used_p(n), used_g(n);
        for (size_t step = 0; step < n; ++step) {
            size_t bi = 0, bj = 0;
            double br = -1e300;
            for (size_t i = 0; i < n; ++i)
                for (size_t j = 0; j < n; ++j)
                    if (!used_p[i] && !used_g[j] && reward(i, j) > br) br = reward(i, j), bi = i, bj = j;
            used_p[bi] = used_g[bj] = true;
            match[bi] = bj;
        }
    }
    Category worst = Category::Correct;
    for (size_t i = 0; i < n; ++i) {
        const double r = table[size_t(cat[i][match[i]])], wr = table[size_t(worst)];
        if (r < wr || (r == wr && worst == Category::Correct)) worst = cat[i][match[i]];
    }
    return verdict_of(worst, table);
}

}  // namespace

Verdict categorize(std::string_view prediction, const Problem& problem, const RewardTable& table) {
    if (problem.protocol == Protocol::TL) return categorize_tl(prediction, problem, table);
    const BfclResult r = bfcl_check(prediction, problem);
    Verdict v = verdict_of(r.valid ? Category::Correct : r.category, table);
    v.correct = r.valid;
    v.error_type = r.error_type;
    return v;
}

std::vector<Verdict> categorize_many(const std::vector<std::string_view>& predictions,
                                     const std::vector<const Problem*>& problems, const RewardTable& table,
                                     int num_threads) {
    const size_t n = predictions.size();
    std::vector<Verdict> out(n);
    parallel_for(n, num_threads, [&](size_t k) { out[k] = categorize(predictions[k], *problems[k], table); });
    return out;
}

}  // namespace tl_fast
