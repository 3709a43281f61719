// ReAct: `Action: name` then `Action Input: {json}` (up to an `Observation:` / `Thought:` line or the next action).
#include "formats.h"
#include "json.h"
#include "lexer.h"

namespace tl_fast {

bool read_react(Reader& r, size_t b, size_t e) {
    using lex::find_line_key;
    const std::string_view t = r.text;
    constexpr size_t npos = std::string_view::npos;
    size_t action = find_line_key(t, b, e, "Action:");
    if (action == npos) return r.no_call_or_fail(b, e, b, "no 'Action:' line found");
    while (action != npos) {
        const size_t next = find_line_key(t, action + 7, e, "Action:");
        const size_t block_end = next == npos ? e : next;
        size_t name_b = action + 7, name_e = name_b;
        while (name_e < block_end && t[name_e] != '\n' && t[name_e] != '\r') ++name_e;
        name_b = lex::skip_space(t, name_b, name_e);
        name_e = lex::trim_end(t, name_b, name_e);
        if (name_b == name_e) return r.fail(action, "empty tool name after 'Action:'");
        const size_t input = find_line_key(t, name_e, block_end, "Action Input:");
        if (input == npos) return r.fail(action, "'Action:' without 'Action Input:'");
        const size_t arg_b = lex::skip_space(t, input + 13, block_end);
        size_t arg_e = block_end;
        for (std::string_view stop : {"Observation:", "Thought:", "```"}) {  // ``` closes a fenced answer
            const size_t s = find_line_key(t, arg_b, arg_e, stop);
            if (s != npos) arg_e = s;
        }
        arg_e = lex::trim_end(t, arg_b, arg_e);
        JsonParser parser(t.substr(0, arg_e), 0);
        size_t pos = arg_b;
        Value args;
        if (!parser.value_at(&pos, &args)) return r.fail(parser.error().offset, parser.error().reason);
        if (lex::skip_space(t, pos, arg_e) != arg_e) return r.fail(pos, "text after the Action Input JSON");
        if (args.kind != Value::Kind::Dict) return r.fail(arg_b, "Action Input must be a JSON object");
        if (!call_from_arguments(r, std::string(t.substr(name_b, name_e - name_b)), std::move(args), action, pos)) return false;
        action = next;
    }
    return true;
}

}  // namespace tl_fast
