"""Planted bugs in BFCL's FC mode, the relevance categories, the "irrelevant" outcome, BFCL's summary and the
one reader of eval (issue #16, BFCL part). Each must make one of its tests fail."""

from __future__ import annotations

from scripts.mutations import Mutation

FC_TESTS = ["tests/reward/test_reward_bfcl_fc.py"]
IRRELEVANT_TESTS = ["tests/reward/test_reward_irrelevant.py"]
EVAL_TESTS = ["tests/eval/test_eval_bfcl_fc.py"]

MUTATIONS = [
    # ---- C++ core (csrc/bfcl_fc.cpp, csrc/bfcl.cpp, csrc/categorize.cpp)
    Mutation(
        id="bfcl-fc-last-key",
        file="csrc/bfcl_fc.cpp",
        old="return add_call_from_json(entry.keys[0].s, entry.items[0].s, d);",
        new="return add_call_from_json(entry.keys.back().s, entry.items.back().s, d);",
        tests=FC_TESTS,
        why="an FC entry's function name is its last key, not the first as in BFCL's list(keys())[0]",
        native=True,
    ),
    Mutation(
        id="bfcl-fc-empty-message-fails",
        file="csrc/bfcl_fc.cpp",
        old="if (v.kind == K::Str) return text_message(v.s.empty());",
        new="if (v.kind == K::Str) return text_message(false);",
        tests=FC_TESTS,
        why='an empty text result "" no longer decodes to [] (BFCL iterates an empty string)',
        native=True,
    ),
    Mutation(
        id="bfcl-fc-non-dict-arguments-fail",
        file="csrc/bfcl_fc.cpp",
        old="        d->status = Status::WrongFormat;\n        return true;",
        new="        d->status = Status::Failed;\n        return false;",
        tests=FC_TESTS,
        why="non-dict arguments give decoder_failed instead of decoder_wrong_output_format",
        native=True,
        ctest=True,
    ),
    Mutation(
        id="bfcl-fc-response-ignored",
        file="csrc/bfcl_fc.cpp",
        old="return message && message->kind == K::Dict ? decode_value(*message, false) : d;",
        new="return d;",
        tests=FC_TESTS,
        why="a whole chat-completions response is not read through its first choice's message",
        native=True,
    ),
    Mutation(
        id="bfcl-no-underscore-to-dot",
        file="csrc/bfcl.cpp",
        old="for (char& c : tool.bfcl_name) c = c == '.' ? '_' : c;",
        new="for (char& c : tool.bfcl_name) c = c;",
        tests=FC_TESTS + ["tests/eval/test_eval_bfcl_fc.py::test_fc_result_files_score_as_bfcl_scores_them"],
        why="BFCL's convert_func_name is not applied: OpenAI-style FC calls of a.b tools are wrong names",
        native=True,
    ),
    Mutation(
        id="bfcl-empty-output-is-a-call",
        file="csrc/bfcl.cpp",
        old="const bool has_call = d.status == BfclDecoded::Status::Calls && !d.calls.empty();",
        new="const bool has_call = d.status == BfclDecoded::Status::Calls;",
        tests=FC_TESTS,
        why="is_empty_output is skipped: [] counts as a call on the relevance categories",
        native=True,
    ),
    Mutation(
        id="bfcl-irrelevance-call-category",
        file="csrc/bfcl.cpp",
        old="if (!problem.find_bfcl_tool(call.name)) out.category = Category::ToolHallucination;",
        new="if (problem.find_bfcl_tool(call.name)) out.category = Category::ToolHallucination;",
        tests=FC_TESTS,
        why="on irrelevance items calling an offered tool is tool_hallucination, an unoffered wrong_tool",
        native=True,
    ),
    Mutation(
        id="tl-no-call-is-format-error",
        file="csrc/categorize.cpp",
        old="problem.expect == Expect::NoCall ? Category::Correct : Category::Irrelevant, table);",
        new="problem.expect == Expect::NoCall ? Category::Correct : Category::FormatError, table);",
        tests=IRRELEVANT_TESTS,
        why="an answer with no call is a format error again, not the 'irrelevant' outcome",
        native=True,
        ctest=True,
    ),
    Mutation(
        id="bfcl-broken-call-list-is-abstention",
        file="csrc/bfcl.cpp",
        old="if (b < text.size() && text[b] == '[') return Category::FormatError;",
        new="if (b < text.size() && text[b] == '[') return Category::Irrelevant;",
        tests=IRRELEVANT_TESTS,
        why="a call list BFCL cannot decode is scored as a deliberate no-call instead of a format error",
        native=True,
    ),
    # ---- Python twin
    Mutation(
        id="py-bfcl-fc-empty-message-fails",
        file="tl_fast/reward/_py_bfcl_fc.py",
        old='        return _text_message(v == "")',
        new="        return _text_message(False)",
        tests=FC_TESTS,
        why='the twin no longer decodes an empty text result "" to []',
    ),
    Mutation(
        id="py-bfcl-fc-last-key",
        file="tl_fast/reward/_py_bfcl_fc.py",
        old="name, arguments = next(iter(entry.items()))",
        new="name, arguments = list(entry.items())[-1]",
        tests=FC_TESTS,
        why="the twin takes an FC entry's last key as the function name",
    ),
    Mutation(
        id="py-bfcl-empty-output-is-a-call",
        file="tl_fast/reward/_py_bfcl.py",
        old='has_call = status == "calls" and bool(calls)',
        new='has_call = status == "calls"',
        tests=FC_TESTS,
        why="the twin counts [] as a call on the relevance categories",
    ),
    Mutation(
        id="py-bfcl-no-underscore-to-dot",
        file="tl_fast/reward/_py_bfcl.py",
        old='return name.replace(".", "_") if problem.underscore_to_dot else name',
        new="return name",
        tests=FC_TESTS,
        why="the twin ignores BFCL's underscore_to_dot",
    ),
    Mutation(
        id="py-tl-no-call-is-format-error",
        file="tl_fast/reward/_py_categorize.py",
        old='return "correct" if problem.expect == "no_call" else "irrelevant"',
        new='return "correct" if problem.expect == "no_call" else "format_error"',
        tests=IRRELEVANT_TESTS,
        why="the twin scores an answer with no call as a format error",
    ),
    Mutation(
        id="irrelevant-reward-is-format-error",
        file="tl_fast/reward/table.py",
        old="            self.irrelevant,\n",
        new="            self.format_error,\n",
        tests=IRRELEVANT_TESTS,
        why="RewardTable(irrelevant=...) has no effect: abstentions get the format-error reward",
    ),
    # ---- eval: mode detection, result files, missing items, TS, BFCL's summary, one reader
    Mutation(
        id="eval-bfcl-fc-never-detected",
        file="tl_fast/eval/bfcl.py",
        old="        return isinstance(value, (list, dict))",
        new="        return False",
        tests=EVAL_TESTS,
        why="BFCL FC result files are scored as prompt-mode text",
    ),
    Mutation(
        id="eval-bfcl-text-result-not-a-message",
        file="tl_fast/eval/predictions.py",  # the predictions reader moved here (#17)
        old="                preds[k] = text_message(preds[k])",
        new="                pass",
        tests=EVAL_TESTS,
        why="a text result of an FC file is read as JSON, so text that looks like calls is decoded",
    ),
    Mutation(
        id="eval-bfcl-missing-counts-right",
        file="tl_fast/eval/__init__.py",
        # #17 keeps a missing item out of the scorer (no post-hoc fix); the bug hands BFCL's to it as ""
        old="    present = [k for k, p in enumerate(predictions) if p is not None]",
        new='    predictions = ["" if p is None and benchmark == "bfcl" else p for p in predictions]\n'
        "    present = [k for k, p in enumerate(predictions) if p is not None]",
        tests=EVAL_TESTS,
        why="an irrelevance item without a prediction scores as a correct abstention",
    ),
    Mutation(
        id="eval-bfcl-ts-ignores-underscore",
        file="tl_fast/eval/bfcl.py",
        old='    return name.replace(".", "_") if underscore_to_dot else name',
        new="    return name",
        tests=EVAL_TESTS,
        why="TS compares FC calls of a_b with the gold's a.b, so TS < CF",
    ),
    Mutation(
        id="bfcl-summary-non-live-weighted",
        file="tl_fast/eval/report.py",
        old='("non_live_ast", ("simple_python", "multiple", "parallel", "parallel_multiple"), "mean"),',
        new='("non_live_ast", ("simple_python", "multiple", "parallel", "parallel_multiple"), "weighted"),',
        tests=EVAL_TESTS + ["tests/eval/test_eval_cli.py::test_gemma4_outputs_reproduce_bfcl_verdicts"],
        why="Non-Live AST is item-weighted, where BFCL takes the unweighted mean of its categories",
    ),
    Mutation(
        id="bfcl-summary-partial-group",
        file="tl_fast/eval/report.py",
        old="        if len(present) == len(categories):",
        new="        if present:",
        tests=EVAL_TESTS,
        why="a group with an unscored category gets a number where BFCL shows N/A",
    ),
    Mutation(
        id="react-fence-not-a-stop-native",
        file="csrc/toolcall/format_react.cpp",
        old='{"Observation:", "Thought:", "```"}',
        new='{"Observation:", "Thought:"}',
        tests=["tests/eval/test_eval_metrics.py"],
        why="a fenced ReAct answer is a format error for the parser (and so for TS) again",
        native=True,
    ),
    Mutation(
        id="react-fence-not-a-stop-python",
        file="tl_fast/reward/_py_formats.py",
        old='("Observation:", "Thought:", "```")',
        new='("Observation:", "Thought:")',
        tests=["tests/eval/test_eval_metrics.py"],
        why="the twin parser rejects a fenced ReAct answer",
    ),
]
