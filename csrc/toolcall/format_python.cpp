// Python-call syntax: `f(a=1)`, `[f(a=1), g.h('x')]`, one call per line or ';'. Literal values only.
#include "formats.h"
#include "python_parser.h"

namespace tl_fast {

namespace {

using K = Expr::Kind;

// A literal value: constants, +/- numbers, lists, tuples, dicts; JSON's true/false/null as bare names.
bool to_literal(Expr& e, Value* out, ParseError* err) {
    auto fail = [&](const char* reason) {
        err->offset = e.begin;
        err->reason = reason;
        return false;
    };
    switch (e.kind) {
        case K::Const:
            *out = std::move(e.value);  // the expression is consumed
            return true;
        case K::Name:
            if (e.id == "true" || e.id == "false") return *out = Value::boolean(e.id == "true"), true;
            if (e.id == "null") return *out = Value::none(), true;
            return fail("a bare name is not a value (quote strings)");
        case K::Unary: {
            if (e.id == "~" || e.id == "not") return fail("operators are not evaluated");
            Value v;
            if (!to_literal(e.kids[0], &v, err)) return false;
            if (e.kids[0].kind != K::Unary && e.kids[0].kind != K::Const) return fail("a sign applies to numbers only");
            if (v.kind == Value::Kind::Int) {
                if (e.id == "-") v.i = -v.i;
            } else if (v.kind == Value::Kind::Float) {
                if (e.id == "-") v.f = -v.f;
            } else {
                return fail("a sign applies to numbers only");
            }
            *out = std::move(v);
            return true;
        }
        case K::List:
        case K::Tuple: {
            out->kind = e.kind == K::List ? Value::Kind::List : Value::Kind::Tuple;
            out->items.resize(e.kids.size());
            for (size_t k = 0; k < e.kids.size(); ++k)
                if (!to_literal(e.kids[k], &out->items[k], err)) return false;
            return true;
        }
        case K::Dict: {
            out->kind = Value::Kind::Dict;
            for (size_t k = 0; k < e.kids.size(); ++k) {
                if (e.keys[k].kind == K::Starred) {
                    err->offset = e.keys[k].begin;
                    err->reason = "unpacking in a dict is not supported";
                    return false;
                }
                Value key, value;
                if (!to_literal(e.keys[k], &key, err)) return false;
                if (!py_hashable(key)) {
                    err->offset = e.keys[k].begin;
                    err->reason = "unhashable dict key";
                    return false;
                }
                if (!to_literal(e.kids[k], &value, err)) return false;
                out->set(std::move(key), std::move(value));
            }
            return true;
        }
        case K::Set:
        case K::Comp: return fail("sets and comprehensions are not supported");
        case K::Call: return fail("a nested call is not a value");
        case K::Attr: return fail("an attribute is not a value");
        case K::Subscript:
        case K::Slice: return fail("subscripts are not evaluated");
        case K::Ellipsis: return fail("'...' is not a value");
        case K::Complex: return fail("complex numbers are not supported");
        case K::Bytes: return fail("bytes literals are not supported");
        case K::FString: return fail("f-strings are not supported");
        case K::Starred: return fail("starred arguments are not supported");
        case K::Lambda: return fail("a lambda is not a value");
        default: return fail("operators are not evaluated");
    }
}

bool dotted_name(const Expr& e, std::string* out) {
    if (e.kind == K::Name) {
        *out = e.id;
        return true;
    }
    if (e.kind == K::Attr && dotted_name(e.kids[0], out)) {
        *out += "." + e.id;
        return true;
    }
    return false;
}

bool call_from_expr(Expr& e, ToolCall* out, ParseError* err) {
    if (e.kind != K::Call || !dotted_name(e.kids[0], &out->name)) {
        err->offset = e.begin;
        err->reason = "expected a call like name(arg=value)";
        return false;
    }
    out->begin = e.begin;
    out->end = e.end;
    for (size_t k = 1; k < e.kids.size(); ++k) {
        Value v;
        if (!to_literal(e.kids[k], &v, err)) return false;
        out->positional.push_back(std::move(v));
    }
    out->arguments.reserve(e.keywords.size());
    for (size_t k = 0; k < e.keywords.size(); ++k) {
        auto& kw = e.keywords[k];
        if (kw.first.empty()) {
            err->offset = kw.second.begin;
            err->reason = "** arguments are not supported";
            return false;
        }
        for (size_t m = 0; m < k; ++m) {
            if (e.keywords[m].first == kw.first) {  // ast.parse accepts it; Python's compiler (and we) do not
                err->offset = kw.second.begin;
                err->reason = "keyword argument repeated";
                return false;
            }
        }
        Value v;
        if (!to_literal(kw.second, &v, err)) return false;
        out->arguments.emplace_back(kw.first, std::move(v));
    }
    return true;
}

}  // namespace

bool read_python_calls(Reader& r, size_t b, size_t e) {
    std::vector<ToolCall> plain;
    if (PyParser(r.text.substr(b, e - b), b).plain_statements(&plain)) {
        for (ToolCall& call : plain)
            if (!r.add(std::move(call))) return false;
        return true;
    }
    PyParser parser(r.text.substr(b, e - b), b);
    std::vector<Expr> statements;
    if (!parser.parse_statements(&statements)) return r.fail(parser.error().offset, parser.error().reason);
    ParseError err;
    for (Expr& s : statements) {
        if (s.kind != K::List) {
            ToolCall call;
            if (!call_from_expr(s, &call, &err)) return r.fail(err.offset, err.reason);
            if (!r.add(std::move(call))) return false;
            continue;
        }
        for (Expr& element : s.kids) {  // [f(), g()]
            ToolCall call;
            if (!call_from_expr(element, &call, &err)) return r.fail(err.offset, err.reason);
            if (!r.add(std::move(call))) return false;
        }
    }
    return true;
}

}  // namespace tl_fast
