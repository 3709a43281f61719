// The format readers. Each reads the byte range [b, e) of the input into a ParseResult; a new format is one small
// file with one function here and one line in parse.cpp's dispatch.
#pragma once

#include <string>
#include <string_view>

#include "toolcall.h"

namespace tl_fast {

struct Reader {
    std::string_view text;
    ParseResult* result;
    int depth = 0;  // > 0 while reading the content string of a chat message

    bool fail(size_t offset, std::string reason) {
        result->ok = false;
        result->error = {offset, std::move(reason)};
        return false;
    }
    bool add(ToolCall call) {
        if (result->calls.size() >= kMaxCalls) return fail(call.begin, "more calls than the limit");
        result->calls.push_back(std::move(call));
        return true;
    }
    // No reader found a call: "no call" when the range is prose (lex::is_prose), else the error `reason`.
    bool no_call_or_fail(size_t b, size_t e, size_t offset, std::string reason);
};

// Format=Auto on [b, e) (special tokens already stripped): the reader of the first format marker, unless the text
// parses as a plain call.
bool read_auto(Reader& r, size_t b, size_t e);

enum class Plain { Any, Python, Json };

// The body of the first code fence (if any), read as JSON calls when it starts with '{' or '[{' (or `only` says
// so), else as Python calls; prose is no call when `prose_ok`.
bool read_plain(Reader& r, size_t b, size_t e, Plain only = Plain::Any, bool prose_ok = true);
bool read_python_calls(Reader& r, size_t b, size_t e);  // format_python.cpp
bool read_json_calls(Reader& r, size_t b, size_t e);    // format_json.cpp: call objects, messages, responses
bool read_tagged(Reader& r, size_t b, size_t e);        // format_tagged.cpp: Hermes / Qwen <tool_call>
bool read_llama(Reader& r, size_t b, size_t e);         // format_llama.cpp
bool read_mistral(Reader& r, size_t b, size_t e);       // format_mistral.cpp
bool read_react(Reader& r, size_t b, size_t e);         // format_react.cpp

// JSON arguments (an object) of a call whose name was read elsewhere (ReAct, Mistral, Llama <function=...>).
bool call_from_arguments(Reader& r, std::string name, Value&& args, size_t begin, size_t end);  // moves args

}  // namespace tl_fast
