// parse_tool_calls: the input checks, format detection and dispatch to the readers of formats.h.
#include "formats.h"
#include "lexer.h"

namespace tl_fast {

bool Reader::no_call_or_fail(size_t b, size_t e, size_t offset, std::string reason) {
    if (!lex::is_prose(text, b, e)) return fail(offset, std::move(reason));
    result->ok = true;
    result->calls.clear();
    return true;
}

namespace {

bool starts_json(std::string_view t, size_t b, size_t e) {
    b = lex::skip_space(t, b, e);
    if (b < e && t[b] == '{') return true;
    if (b < e && t[b] == '[') {
        const size_t n = lex::skip_space(t, b + 1, e);
        return n < e && t[n] == '{';
    }
    return false;
}

// The first format marker in [b, e): which reader it calls for, at which offset.
Format first_marker(std::string_view t, size_t b, size_t e, size_t* at) {
    const std::string_view view = t.substr(0, e);
    Format found = Format::Auto;
    *at = std::string_view::npos;
    auto consider = [&](size_t p, Format f) {
        if (p != std::string_view::npos && (*at == std::string_view::npos || p < *at)) *at = p, found = f;
    };
    if (const size_t lt = view.find('<', b); lt != std::string_view::npos) {  // most calls hold no '<'
        consider(view.find("<tool_call>", lt), Format::Tagged);
        consider(view.find("<|python_tag|>", lt), Format::Llama);
        consider(view.find("<function=", lt), Format::Llama);
    }
    consider(view.find("[TOOL_CALLS]", b), Format::Mistral);
    consider(lex::find_line_key(t, b, e, "Action:"), Format::ReAct);
    return found;
}

bool dispatch(Reader& r, Format format, size_t b, size_t e) {
    switch (format) {
        case Format::Auto: return read_auto(r, b, e);
        case Format::Python: return read_plain(r, b, e, Plain::Python);
        case Format::Json: return read_plain(r, b, e, Plain::Json);
        case Format::Tagged: return read_tagged(r, b, e);
        case Format::Llama: return read_llama(r, b, e);
        case Format::Mistral: return read_mistral(r, b, e);
        case Format::ReAct: return read_react(r, b, e);
    }
    return false;
}

}  // namespace

bool read_plain(Reader& r, size_t b, size_t e, Plain only, bool prose_ok) {
    size_t fb, fe;
    if (lex::fence_body(r.text, b, e, &fb, &fe)) b = fb, e = fe;
    b = lex::skip_space(r.text, b, e);
    e = lex::trim_end(r.text, b, e);
    if (b == e) return prose_ok ? true : r.fail(b, "no tool call found");
    const bool json = only == Plain::Json || (only == Plain::Any && starts_json(r.text, b, e));
    if (json ? read_json_calls(r, b, e) : read_python_calls(r, b, e)) return true;
    return prose_ok && r.no_call_or_fail(b, e, r.result->error.offset, r.result->error.reason);
}

bool read_auto(Reader& r, size_t b, size_t e) {
    size_t at;
    const Format marked = first_marker(r.text, b, e, &at);
    if (marked == Format::Auto) return read_plain(r, b, e);
    // A plain call or JSON that parses wins: a marker inside its strings is text.
    ParseResult plain;
    plain.ok = true;
    Reader plain_reader{r.text, &plain, r.depth};
    if (read_plain(plain_reader, b, e, Plain::Any, /*prose_ok=*/false) && !plain.calls.empty()) {  // no prose scan
        *r.result = std::move(plain);
        return true;
    }
    return dispatch(r, marked, b, e);
}

bool format_from_name(std::string_view name, Format* out) {
    if (name == "auto") *out = Format::Auto;
    else if (name == "python") *out = Format::Python;
    else if (name == "json" || name == "openai") *out = Format::Json;
    else if (name == "tool_call" || name == "hermes") *out = Format::Tagged;
    else if (name == "llama") *out = Format::Llama;
    else if (name == "mistral") *out = Format::Mistral;
    else if (name == "react") *out = Format::ReAct;
    else return false;
    return true;
}

ParseResult parse_tool_calls(std::string_view text, Format format) {
    ParseResult result;
    if (!check_input(text, &result.error)) return result;
    result.ok = true;
    Reader reader{text, &result};
    size_t b = 0, e = text.size();
    lex::strip_special(text, &b, &e);
    dispatch(reader, format, b, e);
    if (!result.ok) result.calls.clear();
    return result;
}

}  // namespace tl_fast
