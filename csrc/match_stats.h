// Per-call match statistics of a predicted tool call against the gold calls of a TL-protocol Problem: what
// ToolRL's correctness reward is built from (Qian et al. 2025, arXiv 2504.13958 §3.3; reference code
// qiancheng0/ToolRL verl/utils/reward_score/rlla.py, compute_tool_call_reward). The reward itself is
// computed in Python (tl_fast/reward/schemes.py); the Python twin is tl_fast/reward/_py_match.py.
//
// Pairing follows the reference code: gold calls in order, each takes the unused predicted call of the same
// name with the highest  J(keys) + matched values  (the first one on ties; none when that score is 0).
// Keys of a predicted call: its keyword names plus the schema names its positional arguments bind to (an
// extra positional argument gets a name no gold call has). Gold keys: the gold call's parameters, except an
// optional one (BFCL's "" option) that the predicted call does not give. A value matches when it equals one
// of the accepted values under the categorizer's comparison (tl_equal with the problem's string_match).
#pragma once

#include <string_view>
#include <vector>

#include "categorize.h"

namespace tl_fast {

struct CallMatch {
    int pred = -1;           // index of the paired predicted call; -1: none
    int gold_keys = 0;       // |K_gold| (see above)
    int pred_keys = 0;       // |K_pred| of the paired call (0 when none)
    int common_keys = 0;     // |K_gold ∩ K_pred|
    int matched_values = 0;  // gold keys the paired call gives with an accepted value
};

struct MatchStats {
    bool parsed = false;  // the prediction parsed into at least one call
    int pred_calls = 0;
    int gold_calls = 0;
    int common_names = 0;         // size of the multiset intersection of predicted and gold call names
    std::vector<CallMatch> gold;  // one per gold call, in gold order (empty when !parsed)
};

// problem.protocol must be Protocol::TL.
MatchStats match_stats(std::string_view prediction, const Problem& problem);

// predictions[k] against *problems[k] on `num_threads` threads (0 = hardware concurrency).
std::vector<MatchStats> match_stats_many(const std::vector<std::string_view>& predictions,
                                         const std::vector<const Problem*>& problems, int num_threads);

}  // namespace tl_fast
