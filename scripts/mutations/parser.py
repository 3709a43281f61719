"""Planted bugs in the tool-call parser (csrc/toolcall/, the Python twin) and the problem cache: each must
make a test fail. Run by scripts/mutation_check.py; the format is in scripts/mutations/__init__.py."""

from __future__ import annotations

from scripts.mutations import Mutation

PARSE = "tests/reward/test_reward_parse.py"
FORMATS = "tests/reward/test_reward_formats.py"
CACHE = "tests/reward/test_reward_cache.py"
_MIX = """    w.mix(std::hash<std::string>()(key));
"""
_CACHE_KEY = (
    _MIX
    + """    if (!w.ok) {
        ++uncacheable;
        return build(tools, gold, options, item);
    }
    auto [lo, hi] = index_.equal_range(w.h);
    for (auto it = lo; it != hi; ++it) {
        Entry& e = *it->second;
        if (e.tokens.size() != tokens.size() || e.options_key != key) continue;"""
)

MUTATIONS = [
    # ---- names (PEP 3131) ----
    Mutation(
        id="nfkc-no-composition",
        file="csrc/toolcall/lexer.cpp",
        old="if ((adjacent || (last_cc != 0 && last_cc < cc)) && compose(out[starter], cp, &composite)) {",
        new="if (false && compose(out[starter], cp, &composite)) {",
        tests=[
            f"{PARSE}::test_names_follow_python_identifier_rules",
            "tests/reward/test_reward_unicode.py::test_combining_sequences_compose_as_nfkc",
        ],
        why="NFKC decomposes but never recomposes: 'cafe' + U+0301 is not the name ast gives ('café')",
        native=True,
        ctest=True,
    ),
    Mutation(
        id="identifier-any-nonascii",
        file="csrc/toolcall/lexer.cpp",
        old="if (cps.empty() ? !(xid_start(cp) || cp == '_') : !xid_continue(cp)) return false;",
        new="if (cps.empty() && cp < 0x80 && !(xid_start(cp) || cp == '_')) return false;",
        tests=[f"{PARSE}::test_names_follow_python_identifier_rules", "tests/reward/test_reward_fuzz.py"],
        why="any non-ASCII character passes as a name character (de😀grees=30 parses), as before the fix",
        native=True,
    ),
    # ---- no call vs malformed ----
    Mutation(
        id="prose-ignores-brackets",
        file="csrc/toolcall/lexer.cpp",
        old="if (p < e && (t[p] == '[' || t[p] == '{')) return false;",
        new="",
        tests=[f"{FORMATS}::test_no_call_is_distinct_from_a_malformed_call"],
        why="a malformed bracketed call ('[get_weather(city=Paris)]') is reported as no call",
        native=True,
    ),
    Mutation(
        id="twin-prose-ignores-call-heads",
        file="tl_fast/reward/_py_parse.py",
        old="""            if q < e and s[q] == "(":
                return False""",
        new="""            if q < e and s[q] == "(":
                pass""",
        tests=[f"{FORMATS}::test_no_call_is_distinct_from_a_malformed_call"],
        why="the twin calls 'get_weather(city=' prose: a malformed call becomes no call",
    ),
    Mutation(
        id="tool-call-block-prose-ok",
        file="csrc/toolcall/format_tagged.cpp",
        old="if (!read_plain(r, body, body_end, Plain::Any, /*prose_ok=*/false)) return false;",
        new="if (!read_plain(r, body, body_end, Plain::Any, /*prose_ok=*/true)) return false;",
        tests=[f"{FORMATS}::test_hermes_and_qwen_tool_call_blocks"],
        why="a <tool_call> block holding prose is no call instead of a malformed call",
        native=True,
    ),
    # ---- call objects and formats ----
    Mutation(
        id="call-object-no-parameters",
        file="csrc/toolcall/format_json.cpp",
        old='if (!args) args = obj->get("parameters");',
        new="",
        tests=[f"{FORMATS}::test_llama_formats"],
        why='Llama\'s {"name", "parameters"} calls lose their arguments',
        native=True,
    ),
    Mutation(
        id="call-object-string-arguments-kept",
        file="csrc/toolcall/format_json.cpp",
        old="if (args && args->kind == Value::Kind::Str) {  // OpenAI sends arguments as a JSON string",
        new="if (false) {",
        tests=[f"{FORMATS}::test_openai_response_message_and_tool_call_list"],
        why="OpenAI's JSON-string arguments are not decoded (a format error)",
        native=True,
    ),
    Mutation(
        id="twin-call-object-string-arguments-kept",
        file="tl_fast/reward/_py_json.py",
        old="    if isinstance(args, str):  # OpenAI sends arguments as a JSON string",
        new="    if False:",
        tests=[f"{FORMATS}::test_openai_response_message_and_tool_call_list"],
        why="the twin leaves OpenAI's JSON-string arguments undecoded",
    ),
    Mutation(
        id="message-content-never-read",
        file="csrc/toolcall/format_json.cpp",
        old="if (!content || content->kind != Value::Kind::Str || r.depth > 0) return true;  // no call",
        new="if (true) return true;",
        tests=[f"{FORMATS}::test_openai_message_without_calls_is_no_call"],
        why="calls a served model left in the message text are missed",
        native=True,
    ),
    Mutation(
        id="json-no-semicolons",
        file="csrc/toolcall/format_json.cpp",
        old="if (pos < e && r.text[pos] == ';') pos = lex::skip_space(r.text, pos + 1, e);",
        new="",
        tests=[f"{FORMATS}::test_llama_formats"],
        why="Llama-3.x ';'-separated JSON calls fail",
        native=True,
    ),
    Mutation(
        id="mistral-args-marker-kept",
        file="csrc/toolcall/format_mistral.cpp",
        old="if (t.substr(q, kArgs.size()) == kArgs) q = lex::skip_space(t, q + kArgs.size(), e);",
        new="",
        tests=[f"{FORMATS}::test_mistral_formats"],
        why="Mistral v13 `name[ARGS]{json}` calls fail",
        native=True,
    ),
    # ---- Python grammar, ast.unparse, BFCL arithmetic ----
    Mutation(
        id="imaginary-literal-rejected",
        file="csrc/toolcall/python_plain.cpp",
        old="if ((peek() | 0x20) == 'j') {  // an imaginary literal: parses, never a value",
        new="if ((peek() | 0x20) == 'j') { return fail_at(start, \"complex numbers are not supported\");",
        tests=[f"{PARSE}::test_bfcl_decoder_reads_python_as_ast_does"],
        why="the failed CI run: -690j in a dropped positional argument makes the native decoder fail",
        native=True,
    ),
    Mutation(
        id="fstring-expression-unchecked",
        file="csrc/toolcall/python_tokens.cpp",
        old='if (!sub.parse_single(&ignored)) return fail_at(start, "f-string: invalid expression");',
        new="",
        tests=[f"{PARSE}::test_bfcl_decoder_reads_python_as_ast_does"],
        why="f'{a b}' parses natively though ast.parse rejects it",
        native=True,
    ),
    Mutation(
        id="unparse-tuple-parens",
        file="csrc/toolcall/unparse.cpp",
        old="case K::Tuple: return parens_if(e.kids.empty() || prec > TUPLE, items(e.kids));",
        new="case K::Tuple: return parens_if(e.kids.empty(), items(e.kids));",
        tests=[f"{PARSE}::test_bfcl_decoder_reads_python_as_ast_does"],
        why="ast.unparse writes a tuple slice in parentheses; without them decoded strings differ",
        native=True,
    ),
    Mutation(
        id="repr-all-printable",
        file="csrc/value.cpp",
        old="if (lex::printable(cp)) out.append(s, k, n);",
        new="if (true) out.append(s, k, n);",
        tests=[f"{PARSE}::test_bfcl_decoder_reads_python_as_ast_does"],
        why="repr leaves U+200B unescaped, unlike Python's: unparsed strings differ",
        native=True,
    ),
    Mutation(
        id="float-pow-overflow-is-inf",
        file="csrc/bfcl.cpp",
        old="if (std::isinf(r) && std::isfinite(x) && std::isfinite(y)) return false;",
        new="",
        tests=[f"{PARSE}::test_bfcl_decoder_reads_python_as_ast_does"],
        why="37.8**715 decodes to inf where Python (and BFCL's eval) raise OverflowError",
        native=True,
    ),
    # ---- twin offsets and input checks ----
    Mutation(
        id="twin-char-offsets",
        file="tl_fast/reward/_py_parse.py",
        old="        if self._ascii:\n            return i",
        new="        if True:\n            return i",
        tests=[f"{PARSE}::test_spans_are_byte_offsets"],
        why="the twin reports character offsets where the API promises UTF-8 byte offsets",
    ),
    # ---- problem cache ----
    Mutation(
        id="cache-leaves-not-compared",
        file="csrc/python/problem_cache.cpp",
        old="same = a.tag == b.tag && a.size == b.size && (!a.obj || same_leaf(a.tag, a.obj, b.obj));",
        new="same = a.tag == b.tag && a.size == b.size;",
        tests=[f"{CACHE}::test_in_place_mutation_is_seen"],
        why="entries that hash alike are told apart by shape only: a gold changed in place stays stale",
        native=True,
    ),
    Mutation(
        id="cache-key-without-options",
        file="csrc/python/problem_cache.cpp",
        old=_CACHE_KEY,
        new=_CACHE_KEY.replace(_MIX, "").replace(" || e.options_key != key", ""),
        tests=[f"{CACHE}::test_protocol_and_string_match_are_part_of_the_key"],
        why="the protocol and string matching are left out of the key: a TL problem serves a BFCL batch",
        native=True,
    ),
    Mutation(
        id="batch-verdict-in-grouped-order",
        file="csrc/bindings.cpp",
        old="verdicts[k] = tl_fast::categorize(texts[k], *problems[pair_of[k]], table);",
        new="verdicts[p] = tl_fast::categorize(texts[k], *problems[pair_of[k]], table);",
        tests=[f"{CACHE}::test_items_of_interleaved_pairs_get_their_own_verdicts_in_order"],
        why="categorize_batch returns its verdicts in the order it scored them (grouped by tools/gold pair), "
        "not in item order",
        native=True,
    ),
    Mutation(
        id="cache-key-without-bfcl-mode",
        file="csrc/python/problem_cache.cpp",
        old="""char('0' + int(o.bfcl.mode)),
                    char('0' + int(o.bfcl.underscore_to_dot))};""",
        new="};",
        tests=[f"{CACHE}::test_bfcl_mode_and_underscore_to_dot_are_part_of_the_key"],
        why="BFCL mode and underscore_to_dot are left out of the key: an FC problem (dotted names matched) "
        "serves a prompt-mode batch",
        native=True,
    ),
    Mutation(
        id="constant-keeps-missing-kind",
        file="csrc/toolcall/python_atoms.cpp",
        old="""            out->kind = K::Const;  // (the caller may have marked *out Missing""",
        new="""            // (the caller may have marked *out Missing""",
        tests=[PARSE],
        why="True/False in a slot a caller marked Missing (slice part, default) stay Missing: the constant "
        "is dropped and native disagrees with ast.parse",
        native=True,
    ),
]
