// BFCL parity: a port of the Berkeley Function Calling Leaderboard's prompt-mode decoder
// (bfcl_eval/model_handler/utils.py: default_decode_ast_prompting, ast_parse, resolve_ast_*) and its AST
// checker (bfcl_eval/eval_checker/ast_eval/ast_checker.py, Python language), Apache-2.0, ShishirPatil/gorilla.
// Same validity verdict and first error_type on the same inputs; it never evaluates text (BFCL `eval`s
// binary operations; here only arithmetic on literals is computed).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "categorize.h"

namespace tl_fast {

struct BfclCall {
    std::string name;
    // Parameter name -> resolved value, a Python dict: each name once, at its first position, its last value.
    std::vector<std::pair<std::string, Value>> args;
    const Value* arg(std::string_view param) const;
};

struct BfclResult {
    bool valid = false;
    const char* error_type = "";              // e.g. "ast_decoder:decoder_failed", "value_error:string"
    Category category = Category::FormatError;  // the IRM category of the first error
};

// BFCL's decode of a prompt-mode answer; false = "ast_decoder:decoder_failed".
bool bfcl_decode(std::string_view text, std::vector<BfclCall>* out);

BfclResult bfcl_check(std::string_view prediction, const Problem& problem);

// Precomputes what bfcl_check reads of a problem on every call (build_problem calls it): the checker of
// the category, the Python types of the schema, the standardized strings of the gold.
void bfcl_prepare(Problem* problem);

// BFCL's standardize_string: drop " ,./-_*^", lower-case, ' -> ". Lower-casing covers ASCII, Latin-1,
// Latin Extended-A, Greek, Cyrillic, Armenian and full-width Latin (Python's str.lower covers all scripts).
std::string bfcl_standardize(std::string_view s);

}  // namespace tl_fast
