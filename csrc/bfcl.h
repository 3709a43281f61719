// BFCL parity: a port of the Berkeley Function Calling Leaderboard's prompt-mode decoder
// (bfcl_eval/model_handler/utils.py: default_decode_ast_prompting, ast_parse, resolve_ast_*), its FC-mode
// decoder (OpenAICompletionsHandler.decode_ast), its AST checker (bfcl_eval/eval_checker/ast_eval/
// ast_checker.py, Python language) and its runners' verdicts (eval_checker/eval_runner.py:
// _evaluate_single_ast_entry, _evaluate_single_relevance_entry), Apache-2.0, ShishirPatil/gorilla.
// Same validity verdict and first error_type on the same inputs; it never evaluates text (BFCL `eval`s
// binary operations; here only arithmetic on literals is computed).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "categorize.h"

namespace tl_fast {

// A decoded call: its name, and its keyword arguments as a Python dict (each name once, at its first position,
// its last value). BFCL drops positional arguments: `positional` stays empty. A ToolCall, so that the parser's
// fast path decodes into it with no copy.
using BfclCall = ToolCall;

// One result decoded as BFCL's handler decodes it, with the format check of its AST runner.
struct BfclDecoded {
    enum class Status {
        Calls,        // decoded; `calls` may be empty ([] or an empty text message in FC mode)
        Failed,       // the handler's decode_ast raised: "ast_decoder:decoder_failed"
        WrongFormat,  // decoded, but an entry's arguments are not a dict: "ast_decoder:decoder_wrong_output_format"
    };
    Status status = Status::Failed;
    std::vector<BfclCall> calls;
    bool message = false;  // FC mode: the result is the model's text message, not function calls
};

struct BfclResult {
    bool valid = false;
    const char* error_type = "";              // e.g. "ast_decoder:decoder_failed", "value_error:string"
    Category category = Category::FormatError;  // the IRM category of the first error
};

// BFCL's decode of a prompt-mode answer; false = "ast_decoder:decoder_failed".
bool bfcl_decode(std::string_view text, std::vector<BfclCall>* out);

// FC mode: `text` is the JSON of one BFCL result value, decoded as OpenAICompletionsHandler.decode_ast
// (bfcl_eval/model_handler/api_inference/openai_completion.py) does with is_fc_model: for each entry
// {name: arguments} of a list, {name: json.loads(arguments)}; a string result (the model's text message)
// fails unless it is empty (then []). Also read, where BFCL's handler would fail: OpenAI tool calls
// ({"function": {"name", "arguments"}} or {"name", "arguments"}, arguments a JSON string or an object),
// an assistant message {"content", "tool_calls"} and a whole response {"choices": [{"message"}]}, read as
// the handler's _parse_query_response_FC reads them (tool_calls if any, else the content). Text that is not
// JSON is the model's text message.
BfclDecoded bfcl_decode_fc(std::string_view text);

// BFCL's relevance categories (is_relevance_or_irrelevance): scored by whether the answer calls at all.
bool bfcl_relevance_category(std::string_view category);

BfclResult bfcl_check(std::string_view prediction, const Problem& problem);

// Precomputes what bfcl_check reads of a problem on every call (build_problem calls it): the checker of
// the category, the Python types of the schema, the standardized strings of the gold.
void bfcl_prepare(Problem* problem);

// BFCL's standardize_string: drop " ,./-_*^", lower-case, ' -> ". Lower-casing covers ASCII, Latin-1,
// Latin Extended-A, Greek, Cyrillic, Armenian and full-width Latin (Python's str.lower covers all scripts).
std::string bfcl_standardize(std::string_view s);

}  // namespace tl_fast
