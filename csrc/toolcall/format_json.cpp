// JSON calls: call objects, lists of them, OpenAI chat-completions messages and responses; values separated by
// whitespace or ';'. Also the one reader of call objects (read_call_object), used by every JSON-bodied format.
#include "formats.h"
#include "json.h"
#include "lexer.h"

namespace tl_fast {

bool read_call_object(const Value& v, ToolCall* out, std::string* error) {
    if (v.kind != Value::Kind::Dict) return *error = "a JSON call must be an object", false;
    const Value* obj = &v;
    if (!obj->get("name")) {  // OpenAI's {"type": "function", "function": {...}}
        const Value* fn = obj->get("function");
        if (fn && fn->kind == Value::Kind::Dict) obj = fn;
    }
    const Value* name = obj->get("name");
    if (!name || name->kind != Value::Kind::Str) return *error = "a JSON call needs a string \"name\"", false;
    const Value* args = obj->get("arguments");
    if (!args) args = obj->get("parameters");
    Value decoded;
    if (args && args->kind == Value::Kind::Str) {  // OpenAI sends arguments as a JSON string
        ParseError err;
        if (!parse_json(args->s, 0, &decoded, &err)) return *error = "\"arguments\" string is not JSON", false;
        args = &decoded;
    }
    out->name = name->s;
    out->arguments.clear();
    if (!args || args->kind == Value::Kind::None) return true;
    if (args->kind != Value::Kind::Dict) return *error = "JSON call arguments must be an object", false;
    for (size_t k = 0; k < args->keys.size(); ++k) {
        if (args->keys[k].kind != Value::Kind::Str) return *error = "argument names must be strings", false;
        out->arguments.emplace_back(args->keys[k].s, args->items[k]);
    }
    return true;
}

bool call_from_arguments(Reader& r, std::string name, Value&& args, size_t begin, size_t end) {
    if (args.kind != Value::Kind::Dict) return r.fail(begin, "call arguments must be a JSON object");
    ToolCall call;
    call.name = std::move(name);
    call.begin = begin;
    call.end = end;
    call.arguments.reserve(args.keys.size());
    for (size_t k = 0; k < args.keys.size(); ++k)  // moved, not copied: a ReAct input is all arguments
        call.arguments.emplace_back(std::move(args.keys[k].s), std::move(args.items[k]));
    return r.add(std::move(call));
}

namespace {

bool add_call_object(Reader& r, const Value& v, size_t begin, size_t end) {
    ToolCall call;
    std::string error;
    if (!read_call_object(v, &call, &error)) return r.fail(begin, error);
    call.begin = begin;
    call.end = end;
    return r.add(std::move(call));
}

// An assistant message: its tool_calls, else a legacy function_call, else the calls in its text content.
bool message_calls(Reader& r, const Value& m, size_t begin, size_t end) {
    if (const Value* tc = m.get("tool_calls"); tc && tc->kind != Value::Kind::None) {
        if (tc->kind != Value::Kind::List) return r.fail(begin, "\"tool_calls\" must be a list");
        if (!tc->items.empty()) {
            for (const Value& item : tc->items)
                if (!add_call_object(r, item, begin, end)) return false;
            return true;
        }
    }
    if (const Value* fc = m.get("function_call"); fc && fc->kind == Value::Kind::Dict)
        return add_call_object(r, *fc, begin, end);
    const Value* content = m.get("content");
    if (!content || content->kind != Value::Kind::Str || r.depth > 0) return true;  // no call
    // A model served without a tool parser leaves its calls in the content text.
    const ParseResult inner = [&] {
        ParseResult out;
        out.ok = true;
        Reader sub{content->s, &out, r.depth + 1};
        size_t cb = 0, ce = content->s.size();
        lex::strip_special(content->s, &cb, &ce);
        read_auto(sub, cb, ce);
        return out;
    }();
    if (!inner.ok) return r.fail(begin, "message content: " + inner.error.reason);
    for (ToolCall call : inner.calls) {
        call.begin = begin;
        call.end = end;
        if (!r.add(std::move(call))) return false;
    }
    return true;
}

bool is_message(const Value& v) {
    return v.kind == Value::Kind::Dict && (v.get("tool_calls") || v.get("function_call") || v.get("role"));
}

bool item_calls(Reader& r, const Value& v, size_t begin, size_t end) {
    if (v.kind == Value::Kind::Dict && v.get("choices")) {  // a chat-completions response: its first choice
        const Value* choices = v.get("choices");
        const Value* message = choices->kind == Value::Kind::List && !choices->items.empty()
                                   ? choices->items[0].get("message")
                                   : nullptr;
        if (!message || message->kind != Value::Kind::Dict)
            return r.fail(begin, "a response needs \"choices\": [{\"message\": {...}}]");
        return message_calls(r, *message, begin, end);
    }
    if (is_message(v)) return message_calls(r, v, begin, end);
    return add_call_object(r, v, begin, end);
}

}  // namespace

bool read_json_calls(Reader& r, size_t b, size_t e) {
    JsonParser parser(r.text.substr(0, e), 0);
    size_t pos = lex::skip_space(r.text, b, e);
    if (pos == e) return r.fail(pos, "no JSON call found");
    while (pos < e) {
        const size_t start = pos;
        Value v;
        if (!parser.value_at(&pos, &v)) return r.fail(parser.error().offset, parser.error().reason);
        if (v.kind == Value::Kind::List) {
            for (const Value& item : v.items)
                if (!item_calls(r, item, start, pos)) return false;
        } else if (!item_calls(r, v, start, pos)) {
            return false;
        }
        pos = lex::skip_space(r.text, pos, e);
        if (pos < e && r.text[pos] == ';') pos = lex::skip_space(r.text, pos + 1, e);  // Llama-3.x: `{...}; {...}`
    }
    return true;
}

}  // namespace tl_fast
