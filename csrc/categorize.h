// IRM error categories of a predicted tool call against the offered tools and a gold call (TL-Training's
// reward, Ye et al. 2024 §3.3), and BFCL's AST-checker verdict (protocol "bfcl", see bfcl.h).
//
// A Problem (tools + gold + options) is built once and may be scored against many predictions from many
// threads: it is immutable after build_problem.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "toolcall.h"
#include "value.h"

namespace tl_fast {

// Order matters: it is the index into RewardTable and the Python side mirrors it (tl_fast/reward/table.py).
enum class Category : int {
    FormatError,
    ToolHallucination,
    WrongTool,
    CountMismatch,
    ParamHallucinationRedundantMissing,
    ParamHallucinationRedundant,
    ParamHallucinationMissing,
    ParamRedundantMissing,
    ParamHallucination,
    ParamRedundant,
    ParamMissing,
    ValueError,
    Correct,
};
constexpr int kNumCategories = 13;
const char* category_name(Category c);

using RewardTable = std::array<double, kNumCategories>;

enum class Protocol { TL, BFCL };
// How the TL protocol compares strings: exactly, or after trimming, collapsing whitespace runs to one
// space and lower-casing ASCII letters.
enum class StringMatch { Exact, Normalize };

struct ParamSchema {
    std::string name;
    std::string type;       // JSON-schema / BFCL type name ("string", "integer", "array", "dict", ...)
    std::string item_type;  // items.type for arrays ("" when absent)
    bool has_item_type = false;
    // BFCL protocol, precomputed (bfcl_prepare): the Python types of `type` / `item_type` (none: unsupported).
    std::optional<Value::Kind> bfcl_type, bfcl_item_type;
};

struct ToolSchema {
    std::string name;
    std::vector<ParamSchema> params;  // properties, in schema order
    std::vector<std::string> required;
    const ParamSchema* find(const std::string& param) const;
};

struct GoldParam {
    std::string name;
    std::vector<Value> accepted;  // any of these is right; BFCL's "" entry marks the parameter optional
    bool optional = false;
    std::vector<std::string> standardized;  // BFCL protocol: standardize_string of each str option, precomputed
};

struct GoldCall {
    std::string name;
    std::vector<GoldParam> params;
    int bfcl_tool = -1;  // BFCL protocol: index of find_tool(name) in Problem::tools, -1: none (bfcl_prepare)
    const GoldParam* find(const std::string& param) const;
};

// Which of BFCL's checkers a category uses.
enum class BfclChecker { Simple, Multiple, Parallel };

struct Problem {
    Protocol protocol = Protocol::TL;
    std::string bfcl_category;  // e.g. "simple_python", "parallel", "live_multiple"
    BfclChecker bfcl_checker = BfclChecker::Simple;  // from bfcl_category (bfcl_prepare)
    StringMatch string_match = StringMatch::Exact;
    std::vector<ToolSchema> tools;
    std::vector<GoldCall> gold;
    const ToolSchema* find_tool(const std::string& name) const;
};

struct Verdict {
    bool correct = false;
    Category category = Category::FormatError;
    double reward = 0.0;
    std::string error_type;  // BFCL's label under protocol BFCL ("" when valid); "" under TL
};

// tools: list of {"name", "parameters": {"properties", "required"}} (or OpenAI's {"type": "function",
// "function": {...}}). gold: a call string (parsed with parse_tool_calls), {"name", "arguments"}, BFCL's
// {name: {param: [acceptable, ...]}}, or a list of these. Returns false with a reason for malformed input.
bool build_problem(const Value& tools, const Value& gold, Protocol protocol, std::string bfcl_category,
                   StringMatch string_match, Problem* out, std::string* error);

Verdict categorize(std::string_view prediction, const Problem& problem, const RewardTable& table);

// Scores predictions[k] against *problems[k] on `num_threads` threads (0 = hardware concurrency).
std::vector<Verdict> categorize_many(const std::vector<std::string_view>& predictions,
                                     const std::vector<const Problem*>& problems, const RewardTable& table,
                                     int num_threads);

// The TL protocol's value comparison: 1 == 1.0, True != 1, lists == tuples, dicts ignore key order.
bool tl_equal(const Value& a, const Value& b, StringMatch mode);

// TL's call-pair category: pred vs gold with the given tools.
Category categorize_pair(const ToolCall& pred, const GoldCall& gold, const Problem& problem);

}  // namespace tl_fast
