// IRM error categories of a predicted tool call against the offered tools and a gold call (TL-Training's
// reward, Ye et al. 2024 §3.3), and BFCL's AST-checker verdict (protocol "bfcl", see bfcl.h).
//
// A Problem (tools + gold + options) is built once and may be scored against many predictions from many
// threads: it is immutable after build_problem.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
    // The answer makes no call (prose, an empty list, an FC text message) where a call was expected.
    // Appended last so the older indices stay as they were.
    Irrelevant,
};
constexpr int kNumCategories = 14;
const char* category_name(Category c);

using RewardTable = std::array<double, kNumCategories>;

enum class Protocol { TL, BFCL };
// What the right answer is: the gold calls; no call at all (BFCL irrelevance, a TL gold of []); or any
// call (BFCL live_relevance, which has no possible answer).
enum class Expect { Calls, NoCall, AnyCall };
// BFCL result layout: prompt-mode text, or function-calling (FC) mode, where a result is
// [{name: "<JSON arguments>"}, ...] or the model's text message (see bfcl.h).
enum class BfclMode { Prompt, FC };
struct BfclOptions {
    BfclMode mode = BfclMode::Prompt;
    // BFCL's per-model `underscore_to_dot` flag (True for OpenAI-style FC models, whose tool names may
    // not hold '.'): the checker compares a tool "a.b" against the called name "a_b".
    bool underscore_to_dot = false;
};
// How the TL protocol compares strings: exactly, or after trimming, collapsing whitespace runs to one
// space and lower-casing ASCII letters.
enum class StringMatch { Exact, Normalize };

struct ParamSchema {
    std::string name;
    std::string type;       // JSON-schema / BFCL type name ("string", "integer", "array", "dict", ...)
    std::string item_type;  // items.type for arrays ("" when absent)
    bool has_item_type = false;
};

struct ToolSchema {
    std::string name;
    std::string bfcl_name;  // BFCL protocol: the name the checker expects (underscore_to_dot applied)
    std::vector<ParamSchema> params;  // properties, in schema order
    std::vector<std::string> required;
    const ParamSchema* find(const std::string& param) const;
};

struct GoldParam {
    std::string name;
    std::vector<Value> accepted;  // any of these is right; BFCL's "" entry marks the parameter optional
    bool optional = false;
};

// BFCL protocol: one parameter as BFCL's simple_function_checker meets it, in BfclPlan.
struct BfclParam {
    uint32_t name = 0, name_size = 0;  // the name: BfclPlan::text.substr(name, name_size)
    uint32_t options = 0, options_end = 0;  // its standardized str options: BfclPlan::options[options, options_end)
    int32_t gold = -1;  // index in GoldCall::params; -1: not in the gold call
    bool in_schema = false, required = false, tuple = false;  // a property; in "required"; of type "tuple"
    bool optional = false;  // the gold's "" option
    // Value::Kind of the property's Python type, of its items' type, and BFCL's possible_answer_type; -1: none.
    int8_t type = -1, item_type = -1, answer_type = -1;
};

// BFCL protocol: what the checker reads of a gold call and the tool it checks it against, built by
// bfcl_prepare in a few flat arrays: scoring a problem that is no longer in cache (an RL batch scores many)
// then touches a few cache lines, not every schema string and gold Value.
struct BfclPlan {
    bool has_tool = false;
    uint32_t tool_name_size = 0;          // the tool's bfcl_name opens `text`
    std::string text;                     // the tool's bfcl_name, the parameter names, the standardized options
    std::vector<BfclParam> params;        // the tool's properties, names only in its "required", gold-only ones
    std::vector<std::pair<uint32_t, uint32_t>> options;  // (offset, size) in `text`
    std::string_view tool_name() const { return std::string_view(text).substr(0, tool_name_size); }
    std::string_view name(const BfclParam& p) const { return std::string_view(text).substr(p.name, p.name_size); }
    // Index of the parameter called `param`, or -1.
    int find(std::string_view param) const;
};

struct GoldCall {
    std::string name;
    std::vector<GoldParam> params;
    BfclPlan bfcl;  // BFCL protocol (bfcl_prepare)
    const GoldParam* find(const std::string& param) const;
};

// Which of BFCL's checkers a category uses.
enum class BfclChecker { Simple, Multiple, Parallel };

struct Problem {
    Protocol protocol = Protocol::TL;
    std::string bfcl_category;  // e.g. "simple_python", "parallel", "live_multiple"
    BfclChecker bfcl_checker = BfclChecker::Simple;  // from bfcl_category (bfcl_prepare)
    StringMatch string_match = StringMatch::Exact;
    Expect expect = Expect::Calls;
    BfclOptions bfcl;
    std::vector<ToolSchema> tools;
    std::vector<GoldCall> gold;
    const ToolSchema* find_tool(const std::string& name) const;
    const ToolSchema* find_bfcl_tool(const std::string& called) const;  // by bfcl_name
};

struct Verdict {
    bool correct = false;
    Category category = Category::FormatError;
    double reward = 0.0;
    // BFCL's label under protocol BFCL ("" when valid); "" under TL. Always a string literal: a std::string
    // cost a heap allocation per failed call (labels are longer than the small-string buffer).
    const char* error_type = "";
};

// tools: list of {"name", "parameters": {"properties", "required"}} (or OpenAI's {"type": "function",
// "function": {...}}). gold: a call string (parsed with parse_tool_calls), {"name", "arguments"}, BFCL's
// {name: {param: [acceptable, ...]}}, or a list of these; under TL an empty list [] means "make no call".
// Under BFCL the relevance categories ("irrelevance", "live_irrelevance", "live_relevance") have no possible
// answer: gold must be None or []. Returns false with a reason for malformed input.
bool build_problem(const Value& tools, const Value& gold, Protocol protocol, std::string bfcl_category,
                   StringMatch string_match, Problem* out, std::string* error);
bool build_problem(const Value& tools, const Value& gold, Protocol protocol, std::string bfcl_category,
                   StringMatch string_match, const BfclOptions& bfcl, Problem* out, std::string* error);

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
