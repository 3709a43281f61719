// BFCL function-calling (FC) mode: decoding one result value as BFCL's OpenAI-style FC handlers do
// (OpenAICompletionsHandler.decode_ast; the same loop in the Claude, Mistral and OSS FC handlers), plus
// the OpenAI shapes those handlers build their results from. See bfcl.h. Python twin: _py_bfcl.py.
#include "bfcl.h"

namespace tl_fast {

namespace {

using K = Value::Kind;
using Status = BfclDecoded::Status;

// json.loads(arguments) into the decoded entry. BFCL appends {name: params} whatever params is; its AST
// runner then rejects an entry whose params are not a dict (is_function_calling_format_output).
bool add_call(std::string name, Value params, BfclDecoded* d) {
    if (params.kind != K::Dict) {
        d->status = Status::WrongFormat;
        return true;
    }
    BfclCall call;
    call.name = std::move(name);
    call.arguments.reserve(params.keys.size());
    for (size_t k = 0; k < params.keys.size(); ++k)  // JSON keys are strings; duplicates are merged already
        call.arguments.emplace_back(std::move(params.keys[k].s), std::move(params.items[k]));
    d->calls.push_back(std::move(call));
    return true;
}

bool add_call_from_json(std::string name, std::string_view arguments, BfclDecoded* d) {
    Value params;
    ParseError err;
    if (!parse_json(arguments, 0, &params, &err)) return false;  // json.loads raises
    return add_call(std::move(name), std::move(params), d);
}

// An OpenAI tool call: {"function": {"name", "arguments"}, ...} (chat completions) or {"name", "arguments",
// ...} with more than one key (a flattened call, the Responses API's function_call item). BFCL's own
// entries have one key whose value is a string, so the two never overlap. -1: not this shape.
int openai_call(const Value& v, BfclDecoded* d) {
    const Value* fn = v.get("function");
    if (!fn || fn->kind != K::Dict || !fn->get("name") || fn->get("name")->kind != K::Str) {
        if (v.keys.size() < 2 || !v.get("arguments") || !v.get("name") || v.get("name")->kind != K::Str) return -1;
        fn = &v;
    }
    const Value* args = fn->get("arguments");
    if (!args) return 0;
    if (args->kind == K::Str) return add_call_from_json(fn->get("name")->s, args->s, d);
    if (args->kind == K::Dict) return add_call(fn->get("name")->s, *args, d);
    return 0;
}

// One entry of a result list: `name = list(entry.keys())[0]; params = json.loads(entry[name])`.
bool bfcl_entry(const Value& entry, BfclDecoded* d) {
    if (entry.kind != K::Dict) return false;  // a str has no .keys()
    if (const int r = openai_call(entry, d); r >= 0) return r == 1;
    if (entry.keys.empty()) return false;                    // IndexError
    if (entry.items[0].kind != K::Str) return false;         // json.loads of a non-string: TypeError
    return add_call_from_json(entry.keys[0].s, entry.items[0].s, d);
}

// The model's text message: BFCL iterates the string, which fails unless it is empty.
BfclDecoded text_message(bool empty) {
    BfclDecoded d;
    d.message = true;
    d.status = empty ? Status::Calls : Status::Failed;
    return d;
}

// The end of a successful loop: an entry with non-dict params makes the whole result the wrong format.
BfclDecoded& decoded(BfclDecoded& d) {
    if (d.status == Status::WrongFormat) d.calls.clear();
    else d.status = Status::Calls;
    return d;
}

BfclDecoded& failed(BfclDecoded& d, bool message = false) {
    d.calls.clear();
    d.status = Status::Failed;
    d.message = message;
    return d;
}

BfclDecoded decode_value(const Value& v, bool top) {
    BfclDecoded d;
    if (v.kind == K::Str) return text_message(v.s.empty());
    if (v.kind == K::List) {
        bool all_text = true;  // Claude's FC handler keeps a text answer as a list of strings
        for (const Value& entry : v.items) all_text = all_text && entry.kind == K::Str;
        for (const Value& entry : v.items)
            if (!bfcl_entry(entry, &d)) return failed(d, all_text);
        return decoded(d);
    }
    if (v.kind != K::Dict) return d;                         // iterating a number, bool or None: TypeError
    if (v.keys.empty()) return decoded(d);                   // iterating an empty dict gives []
    if (const Value* choices = v.get("choices"); choices && top) {  // a whole chat-completions response
        if (choices->kind != K::List || choices->items.empty()) return d;
        const Value* message = choices->items[0].get("message");
        return message && message->kind == K::Dict ? decode_value(*message, false) : d;
    }
    if (v.get("tool_calls") || v.get("role") || v.get("content")) {  // an assistant message
        // _parse_query_response_FC: the tool calls if there are any, else `message.content or ""`
        const Value* calls = v.get("tool_calls");
        if (calls && calls->kind == K::List && !calls->items.empty()) {
            for (const Value& call : calls->items)
                if (call.kind != K::Dict || openai_call(call, &d) != 1) return failed(d);
            return decoded(d);
        }
        if (calls && calls->kind != K::List && calls->kind != K::None) return d;
        const Value* content = v.get("content");
        if (!content || content->kind == K::None) return text_message(true);
        if (content->kind == K::Str) return text_message(content->s.empty());
        if (content->kind == K::List) return text_message(content->items.empty());  // content parts
        return d;
    }
    return openai_call(v, &d) == 1 ? decoded(d) : failed(d);  // one tool call on its own
}

}  // namespace

BfclDecoded bfcl_decode_fc(std::string_view text) {
    size_t bad;
    if (text.size() > kMaxInputBytes || !valid_utf8(text, &bad) || text.find('\0') != std::string_view::npos)
        return {};
    Value v;
    ParseError err;
    if (parse_json(text, 0, &v, &err)) return decode_value(v, true);
    // Not JSON: the model's text message, unless it looks like a result cut short.
    size_t b = 0;
    while (b < text.size() && (text[b] == ' ' || text[b] == '\t' || text[b] == '\n' || text[b] == '\r')) ++b;
    if (b < text.size() && (text[b] == '[' || text[b] == '{')) return {};
    return text_message(text.empty());
}

}  // namespace tl_fast
