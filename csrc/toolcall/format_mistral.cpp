// Mistral (mistralai/cookbook, concept-deep-dive/tokenization/tool_calling.md; vLLM's mistral tool parser):
//   tokenizers v2/v3: `[TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]`;
//   v11+: `[TOOL_CALLS]name{json}` per call, v13: `[TOOL_CALLS]name[ARGS]{json}` (an optional `[CALL_ID]id` skipped).
// Text before the first [TOOL_CALLS] is prose.
#include "formats.h"
#include "json.h"
#include "lexer.h"

namespace tl_fast {

namespace {

constexpr std::string_view kMarker = "[TOOL_CALLS]", kArgs = "[ARGS]", kCallId = "[CALL_ID]";

bool named_call(Reader& r, size_t b, size_t e) {
    const std::string_view t = r.text.substr(0, e);
    size_t q = b;
    while (q < e && t[q] != '{' && t[q] != '[' && !lex::is_space((unsigned char)t[q])) ++q;
    if (q == b) return r.fail(b, "expected a tool name after [TOOL_CALLS]");
    std::string name(t.substr(b, q - b));
    q = lex::skip_space(t, q, e);
    if (t.substr(q, kCallId.size()) == kCallId) {
        const size_t args = t.find(kArgs, q);
        if (args == std::string_view::npos) return r.fail(q, "[CALL_ID] without [ARGS]");
        q = args;
    }
    if (t.substr(q, kArgs.size()) == kArgs) q = lex::skip_space(t, q + kArgs.size(), e);
    Value args;
    ParseError err;
    if (!parse_json(t.substr(q, e - q), q, &args, &err)) return r.fail(err.offset, err.reason);
    return call_from_arguments(r, std::move(name), std::move(args), b, e);
}

}  // namespace

bool read_mistral(Reader& r, size_t b, size_t e) {
    const std::string_view t = r.text.substr(0, e);
    size_t marker = t.find(kMarker, b);
    if (marker == std::string_view::npos) return r.no_call_or_fail(b, e, b, "no [TOOL_CALLS] found");
    while (marker != std::string_view::npos) {
        const size_t next = t.find(kMarker, marker + kMarker.size());
        const size_t seg_b = lex::skip_space(t, marker + kMarker.size(), next == std::string_view::npos ? e : next);
        const size_t seg_e = lex::trim_end(t, seg_b, next == std::string_view::npos ? e : next);
        if (seg_b == seg_e) return r.fail(marker, "nothing after [TOOL_CALLS]");
        const bool json = t[seg_b] == '[' || t[seg_b] == '{';
        if (!(json ? read_json_calls(r, seg_b, seg_e) : named_call(r, seg_b, seg_e))) return false;
        marker = next;
    }
    return true;
}

}  // namespace tl_fast
