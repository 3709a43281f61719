// Llama 3.x (meta-llama/llama-models, llama3_1/prompt_format.md and llama3_2/text_prompt_format.md):
//   `<|python_tag|>` then JSON `{"name", "parameters"}` objects separated by ';', or built-in tool calls in Python
//   syntax (`brave_search.call(query="...")`); text before the tag is prose;
//   user-defined `<function=name>{"arg": ...}</function>` blocks;
//   without either, the JSON or pythonic `[f(a=1)]` forms of Llama 3.2.
#include "formats.h"
#include "json.h"
#include "lexer.h"

namespace tl_fast {

namespace {

constexpr std::string_view kTag = "<|python_tag|>";
constexpr std::string_view kFunction = "<function=";
constexpr std::string_view kFunctionEnd = "</function>";

bool function_blocks(Reader& r, size_t open, size_t e) {
    const std::string_view t = r.text.substr(0, e);
    while (open != std::string_view::npos) {
        const size_t name_b = open + kFunction.size();
        const size_t gt = t.find('>', name_b);
        if (gt == std::string_view::npos) return r.fail(open, "<function= without '>'");
        const size_t close = t.find(kFunctionEnd, gt + 1);
        const size_t body_e = close == std::string_view::npos ? e : close;
        const size_t name_e = lex::trim_end(t, name_b, gt);
        if (lex::skip_space(t, name_b, name_e) != name_b || name_b == name_e)
            return r.fail(open, "empty or spaced name in <function=...>");
        Value args;
        ParseError err;
        const size_t args_b = lex::skip_space(t, gt + 1, body_e), args_e = lex::trim_end(t, args_b, body_e);
        if (!parse_json(t.substr(args_b, args_e - args_b), args_b, &args, &err)) return r.fail(err.offset, err.reason);
        const size_t end = close == std::string_view::npos ? e : close + kFunctionEnd.size();
        if (!call_from_arguments(r, std::string(t.substr(name_b, name_e - name_b)), std::move(args), open, end)) return false;
        if (close == std::string_view::npos) break;
        open = t.find(kFunction, end);
    }
    return true;
}

}  // namespace

bool read_llama(Reader& r, size_t b, size_t e) {
    const std::string_view t = r.text.substr(0, e);
    if (const size_t open = t.find(kFunction, b); open != std::string_view::npos) return function_blocks(r, open, e);
    size_t tag = t.find(kTag, b);
    if (tag == std::string_view::npos) return read_plain(r, b, e);
    while (tag != std::string_view::npos) {  // each tag starts a body; a body ends at the next tag
        const size_t next = t.find(kTag, tag + kTag.size());
        size_t body_b = tag + kTag.size(), body_e = next == std::string_view::npos ? e : next;
        lex::strip_special(t, &body_b, &body_e);
        if (body_b == body_e) return r.fail(tag, "nothing after <|python_tag|>");
        if (!read_plain(r, body_b, body_e, Plain::Any, /*prose_ok=*/false)) return false;
        tag = next;
    }
    return true;
}

}  // namespace tl_fast
