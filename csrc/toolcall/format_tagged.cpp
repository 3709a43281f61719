// Hermes / Qwen: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, several per message, text between them
// ignored; a block holds JSON or Python calls. The last block may be unclosed (generation cut at a stop token).
#include "formats.h"
#include "lexer.h"

namespace tl_fast {

bool read_tagged(Reader& r, size_t b, size_t e) {
    static constexpr std::string_view kOpen = "<tool_call>", kClose = "</tool_call>";
    const std::string_view t = r.text.substr(0, e);
    size_t open = t.find(kOpen, b);
    if (open == std::string_view::npos) return r.no_call_or_fail(b, e, b, "no <tool_call> block found");
    while (open != std::string_view::npos) {
        const size_t body = open + kOpen.size();
        const size_t close = t.find(kClose, body);
        const size_t body_end = close == std::string_view::npos ? e : close;
        if (lex::skip_space(t, body, body_end) == body_end) return r.fail(open, "empty <tool_call> block");
        if (!read_plain(r, body, body_end, Plain::Any, /*prose_ok=*/false)) return false;
        if (close == std::string_view::npos) break;
        open = t.find(kOpen, close + kClose.size());
    }
    return true;
}

}  // namespace tl_fast
