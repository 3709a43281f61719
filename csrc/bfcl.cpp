// Port of BFCL's prompt-mode decoder and AST checker; see bfcl.h. Function names and control flow follow
// the upstream Python so the two can be read side by side (including its quirks, marked "BFCL:").
#include "bfcl.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

namespace tl_fast {

namespace {

using K = Value::Kind;

// ------------------------------------------------------------------------------------------------
// Decoder: default_decode_ast_prompting + ast_parse + resolve_ast_call / resolve_ast_by_type
// ------------------------------------------------------------------------------------------------

int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

// BFCL `eval`s binary operations; we compute arithmetic on literals only (names, calls -> failure).
bool arith(const Expr& e, Value* out) {
    if (e.kind == Expr::Kind::Const) {
        *out = e.value;
        if (out->kind == K::Bool) *out = Value::integer(out->b);
        return true;
    }
    if (e.kind == Expr::Kind::Unary) {
        Value v;
        if (e.id == "not" || !arith(e.kids[0], &v)) return false;
        if (v.kind == K::Int) {
            if (e.id == "-") {
                if (v.i == INT64_MIN) return false;
                v.i = -v.i;
            } else if (e.id == "~") {
                v.i = ~v.i;
            }
        } else if (v.kind == K::Float && e.id != "~") {
            if (e.id == "-") v.f = -v.f;
        } else {
            return false;
        }
        *out = v;
        return true;
    }
    if (e.kind != Expr::Kind::BinOp) return false;
    Value a, b;
    if (!arith(e.kids[0], &a) || !arith(e.kids[1], &b)) return false;
    const std::string& op = e.id;
    if (a.kind == K::Str || b.kind == K::Str) {
        if (op == "+" && a.kind == K::Str && b.kind == K::Str) return *out = Value::str(a.s + b.s), true;
        if (op == "*" && (a.kind == K::Int || b.kind == K::Int)) {
            const Value& s = a.kind == K::Str ? a : b;
            const int64_t n = a.kind == K::Int ? a.i : b.i;
            if (n > 0 && s.s.size() * size_t(n) > kMaxInputBytes) return false;
            std::string r;
            for (int64_t k = 0; k < n; ++k) r += s.s;
            return *out = Value::str(r), true;
        }
        return false;
    }
    if (!(a.kind == K::Int || a.kind == K::Float) || !(b.kind == K::Int || b.kind == K::Float)) return false;
    if (a.kind == K::Int && b.kind == K::Int && op != "/") {
        int64_t r = 0;
        if (op == "+") {
            if (__builtin_add_overflow(a.i, b.i, &r)) return false;
        } else if (op == "-") {
            if (__builtin_sub_overflow(a.i, b.i, &r)) return false;
        } else if (op == "*") {
            if (__builtin_mul_overflow(a.i, b.i, &r)) return false;
        } else if (op == "//" || op == "%") {
            if (b.i == 0 || (a.i == INT64_MIN && b.i == -1)) return false;
            r = op == "//" ? floor_div(a.i, b.i) : a.i - floor_div(a.i, b.i) * b.i;
        } else if (op == "**") {
            if (b.i < 0) {
                if (a.i == 0) return false;
                return *out = Value::real(std::pow(double(a.i), double(b.i))), true;
            }
            r = 1;
            for (int64_t k = 0; k < b.i; ++k) {
                if (__builtin_mul_overflow(r, a.i, &r)) return false;
                if (r == 0 || r == 1) break;
                if (r == -1) {
                    r = (b.i % 2 == 0) ? 1 : -1;
                    break;
                }
            }
        } else {
            return false;
        }
        return *out = Value::integer(r), true;
    }
    const double x = a.as_double(), y = b.as_double();
    double r;
    if (op == "+") r = x + y;
    else if (op == "-") r = x - y;
    else if (op == "*") r = x * y;
    else if (op == "/") {
        if (y == 0) return false;
        r = x / y;
    } else if (op == "//") {
        if (y == 0) return false;
        r = std::floor(x / y);
    } else if (op == "%") {
        if (y == 0) return false;
        r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
    } else if (op == "**") {
        if (x == 0 && y < 0) return false;
        if (x < 0 && y != std::floor(y)) return false;  // Python gives a complex number
        r = std::pow(x, y);
        if (std::isinf(r) && std::isfinite(x) && std::isfinite(y)) return false;  // OverflowError in Python
    } else {
        return false;
    }
    return *out = Value::real(r), true;
}

// Both consume their Expr: constants are moved, not copied, into the resolved values.
bool resolve_call(Expr& call, BfclCall* out);

// args[name] = value with a Python dict's rule for a repeated name (ast.parse accepts f(a=1, a=2)).
void set_arg(std::vector<std::pair<std::string, Value>>* args, std::string name, Value value) {
    for (auto& [existing, old] : *args)
        if (existing == name) return void(old = std::move(value));
    args->emplace_back(std::move(name), std::move(value));
}

bool resolve(Expr& e, Value* out) {
    switch (e.kind) {
        case Expr::Kind::Const: *out = std::move(e.value); return true;
        case Expr::Kind::Ellipsis: *out = Value::str("..."); return true;
        case Expr::Kind::Unary: {  // BFCL: `-value.operand.value`, whatever the operator
            const Expr& operand = e.kids[0];
            if (operand.kind != Expr::Kind::Const) return false;
            const Value& v = operand.value;
            if (v.kind == K::Int) return *out = Value::integer(-v.i), true;
            if (v.kind == K::Float) return *out = Value::real(-v.f), true;
            if (v.kind == K::Bool) return *out = Value::integer(-int64_t(v.b)), true;
            return false;
        }
        case Expr::Kind::List:
        case Expr::Kind::Tuple: {
            out->kind = e.kind == Expr::Kind::List ? K::List : K::Tuple;
            out->items.resize(e.kids.size());
            for (size_t k = 0; k < e.kids.size(); ++k)
                if (!resolve(e.kids[k], &out->items[k])) return false;
            return true;
        }
        case Expr::Kind::Dict: {
            out->kind = K::Dict;
            for (size_t k = 0; k < e.kids.size(); ++k) {
                Value key, value;
                if (!resolve(e.keys[k], &key) || !resolve(e.kids[k], &value)) return false;
                if (!py_hashable(key)) return false;
                out->set(std::move(key), std::move(value));
            }
            return true;
        }
        case Expr::Kind::BinOp: return arith(e, out);
        case Expr::Kind::Name: *out = Value::str(e.id); return true;
        case Expr::Kind::Call: {
            if (e.keywords.empty()) return *out = Value::str(unparse(e)), true;
            BfclCall inner;
            if (!resolve_call(e, &inner)) return false;
            Value args;
            args.kind = K::Dict;
            for (auto& [name, value] : inner.arguments) {
                args.keys.push_back(Value::str(std::move(name)));
                args.items.push_back(std::move(value));
            }
            out->kind = K::Dict;
            out->set(Value::str(inner.name), std::move(args));
            return true;
        }
        case Expr::Kind::Subscript:  // BFCL: unparse(value) + "[" + unparse(slice) + "]", tuples parenthesized
            *out = Value::str(unparse(e.kids[0]) + "[" + unparse(e.kids[1]) + "]");
            return true;
        default: return false;  // Attribute, Set: "Unsupported AST type"
    }
}

bool resolve_call(Expr& call, BfclCall* out) {
    std::vector<const std::string*> parts;
    const Expr* f = &call.kids[0];
    while (f->kind == Expr::Kind::Attr) parts.push_back(&f->id), f = &f->kids[0];
    if (f->kind == Expr::Kind::Name) parts.push_back(&f->id);
    out->name.clear();
    for (size_t k = parts.size(); k-- > 0;) out->name += *parts[k] + (k ? "." : "");
    out->arguments.clear();
    out->arguments.reserve(call.keywords.size());
    for (auto& kw : call.keywords) {  // BFCL: positional arguments are dropped
        if (kw.first.empty()) return false;  // **kwargs
        Value v;
        if (!resolve(kw.second, &v)) return false;
        set_arg(&out->arguments, std::move(kw.first), std::move(v));  // the Expr is consumed
    }
    return true;
}

// ------------------------------------------------------------------------------------------------
// standardize_string
// ------------------------------------------------------------------------------------------------

uint32_t lower_cp(uint32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2) || (c >= 0x410 && c <= 0x42F) ||
        (c >= 0xFF21 && c <= 0xFF3A))
        return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    if (c >= 0x531 && c <= 0x556) return c + 48;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if (c == 0x178) return 0xFF;
    if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x138 && c != 0x149) {
        const bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
        if (odd_upper ? (c % 2 == 1) : (c % 2 == 0)) return c + 1;
    }
    return c;
}

// What standardize_string makes of each ASCII byte: 0 drops it (" ,./-_*^"), else its lower case, ' -> ".
constexpr std::array<char, 128> kStandardAscii = [] {
    std::array<char, 128> t{};
    for (int c = 1; c < 128; ++c) t[size_t(c)] = char(c >= 'A' && c <= 'Z' ? c + 32 : c);
    for (char c : {' ', ',', '.', '/', '-', '_', '*', '^'}) t[size_t(c)] = 0;
    t[size_t('\'')] = '"';
    return t;
}();

// BFCL's standardize_string (see bfcl_standardize), a byte at a time: emit(byte) for each byte of the
// result, stopping with false as soon as emit returns false.
template <class Emit>
bool standardize_each(std::string_view s, Emit&& emit) {
    for (size_t k = 0; k < s.size();) {
        const unsigned char c = (unsigned char)s[k];
        if (c < 0x80) {
            ++k;
            const char out = kStandardAscii[c];
            if (out && !emit(out)) return false;
            continue;
        }
        size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (k + n > s.size()) n = s.size() - k;
        uint32_t cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
        for (size_t m = 1; m < n; ++m) cp = (cp << 6) | ((unsigned char)s[k + m] & 0x3F);
        const uint32_t lower = lower_cp(cp);
        bool more = true;
        if (lower == cp) {
            for (size_t m = 0; m < n && more; ++m) more = emit(s[k + m]);
        } else if (lower < 0x800) {
            more = emit(char(0xC0 | (lower >> 6))) && emit(char(0x80 | (lower & 0x3F)));
        } else {
            more = emit(char(0xE0 | (lower >> 12))) && emit(char(0x80 | ((lower >> 6) & 0x3F))) &&
                   emit(char(0x80 | (lower & 0x3F)));
        }
        if (!more) return false;
        k += n;
    }
    return true;
}

// bfcl_standardize(raw) == standardized, without building the string (the checker's hot comparison).
bool standardizes_to(std::string_view raw, std::string_view standardized) {
    size_t k = 0;
    return standardize_each(raw, [&](char c) { return k < standardized.size() && standardized[k++] == c; }) &&
           k == standardized.size();
}

// ------------------------------------------------------------------------------------------------
// Checker
// ------------------------------------------------------------------------------------------------

std::optional<K> python_type(const std::string& t) {
    if (t == "string" || t == "any") return K::Str;
    if (t == "integer") return K::Int;
    if (t == "float") return K::Float;
    if (t == "boolean") return K::Bool;
    if (t == "array" || t == "tuple") return K::List;
    if (t == "dict") return K::Dict;
    return std::nullopt;
}

bool is_empty_str(const Value& v) { return v.kind == K::Str && v.s.empty(); }

bool py_in(const Value& v, const std::vector<Value>& options) {
    for (const Value& o : options)
        if (py_equal(v, o)) return true;
    return false;
}

// BFCL iterates `possible_answer[i]` with range(len(...)): a list's items, a string's characters.
std::vector<Value> elements(const Value& v) {
    if (v.kind == K::List || v.kind == K::Tuple) return v.items;
    std::vector<Value> out;
    if (v.kind == K::Str)
        for (size_t k = 0; k < v.s.size();) {
            size_t n = 1;
            const unsigned char c = (unsigned char)v.s[k];
            if (c >= 0xF0) n = 4;
            else if (c >= 0xE0) n = 3;
            else if (c >= 0xC0) n = 2;
            out.push_back(Value::str(v.s.substr(k, n)));
            k += n;
        }
    return out;
}

const Value* dict_find(const Value& d, const Value& key) {
    for (size_t k = 0; k < d.keys.size(); ++k)
        if (py_equal(d.keys[k], key)) return &d.items[k];
    return nullptr;
}

struct Check {
    bool valid = true;
    // Always a string literal: a std::string here cost a heap allocation per checked parameter.
    const char* error_type = "";
    Category category = Category::Correct;
    bool is_variable = false;
};

Check invalid(const char* error_type, Category c = Category::ValueError) {
    Check r;
    r.valid = false;
    r.error_type = error_type;
    r.category = c;
    return r;
}

std::optional<K> possible_answer_type(const std::vector<Value>& possible) {
    for (const Value& a : possible)
        if (!is_empty_str(a)) return a.kind;
    return std::nullopt;
}

// pat: possible_answer_type(possible), precomputed for the parameters of a plan.
Check type_checker(const Value& value, const std::vector<Value>& possible, K expected, std::optional<K> nested,
                   std::optional<K> pat) {
    Check result;
    result.error_type = "type_error:simple";
    const bool is_variable = pat && *pat != expected;
    if (value.kind == expected) {
        if (!nested) {
            result.is_variable = is_variable;
            return result;
        }
        for (const Value& item : possible) {
            bool flag = true;
            if (item.kind == K::List) {
                for (const Value& v : value.items) {
                    if (!type_checker(v, item.items, *nested, std::nullopt, possible_answer_type(item.items)).valid) {
                        flag = false;
                        break;
                    }
                }
            }
            if (flag) {
                Check ok;
                ok.is_variable = is_variable;
                return ok;
            }
        }
        result.valid = false;
        result.error_type = "type_error:nested";
        result.category = Category::ValueError;
    }
    if (pat && value.kind == *pat) {  // BFCL: returns `result` as is, invalid when the nested check failed
        result.is_variable = true;
        return result;
    }
    return invalid("type_error:simple");
}

Check string_checker(const Value& value, const BfclPlan& plan, const BfclParam& param) {
    const std::string_view text = plan.text;
    for (uint32_t k = param.options; k < param.options_end; ++k)
        if (standardizes_to(value.s, text.substr(plan.options[k].first, plan.options[k].second))) return {};
    return invalid("value_error:string");
}

Value standardized(const Value& v) { return v.kind == K::Str ? Value::str(bfcl_standardize(v.s)) : v; }

Check list_checker(const Value& value, const std::vector<Value>& possible) {
    Value model = Value::seq(K::List, value.items);
    for (Value& item : model.items) item = standardized(item);
    for (const Value& p : possible) {
        Value candidate = Value::seq(K::List, elements(p));
        for (Value& item : candidate.items) item = standardized(item);
        if (py_equal(model, candidate)) return {};
    }
    return invalid("value_error:list/tuple");
}

Check dict_checker(const Value& model, const std::vector<Value>& possible) {
    Check result = invalid("dict_checker:unclear");
    for (const Value& answer : possible) {
        if (is_empty_str(answer)) continue;
        result = invalid("dict_checker:unclear");
        bool flag = true;
        for (size_t k = 0; k < model.keys.size(); ++k) {
            const Value* options = answer.kind == K::Dict ? dict_find(answer, model.keys[k]) : nullptr;
            if (!options) {
                result = invalid("value_error:dict_key");
                flag = false;
                break;
            }
            std::vector<Value> std_options = elements(*options);
            for (Value& o : std_options) o = standardized(o);
            if (!py_in(standardized(model.items[k]), std_options)) {
                result = invalid("value_error:dict_value");
                flag = false;
                break;
            }
        }
        if (answer.kind == K::Dict) {
            for (size_t k = 0; k < answer.keys.size(); ++k) {
                if (!dict_find(model, answer.keys[k]) && !py_in(Value::str(""), elements(answer.items[k]))) {
                    result = invalid("value_error:dict_key");
                    flag = false;
                    break;
                }
            }
        }
        if (flag) return {};
    }
    return result;
}

Check list_dict_checker(const Value& model, const std::vector<Value>& possible) {
    Check result = invalid("list_dict_checker:unclear");
    for (const Value& answer : possible) {
        const std::vector<Value> dicts = elements(answer);
        if (model.items.size() != dicts.size()) {
            result = invalid("value_error:list_dict_count");
            continue;
        }
        bool flag = true;
        for (size_t k = 0; k < model.items.size(); ++k) {
            if (model.items[k].kind != K::Dict) {
                result = invalid("list_dict_checker:unclear");
                flag = false;
                break;
            }
            result = dict_checker(model.items[k], {dicts[k]});
            if (!result.valid) {
                flag = false;
                break;
            }
        }
        if (flag) return {};
    }
    return result;
}

std::optional<K> kind_of(int8_t k) { return k < 0 ? std::nullopt : std::optional<K>(K(k)); }

// BFCL's simple_function_checker of `model` against `answer` and the tool of its plan.
Check simple_function_checker(const BfclCall& model, const GoldCall& answer, const Problem& problem) {
    const BfclPlan& plan = answer.bfcl;
    if (!plan.has_tool) return invalid("checker:function_not_in_tools", Category::ToolHallucination);
    if (model.name != plan.tool_name())  // BFCL: convert_func_name(func_description["name"])
        return invalid("simple_function_checker:wrong_func_name",
                       problem.find_bfcl_tool(model.name) ? Category::WrongTool : Category::ToolHallucination);
    // The plan's parameter of each argument, looked up once (-1: neither a property nor in the gold).
    constexpr size_t kInline = 16;
    int inline_rows[kInline];
    std::vector<int> more_rows;
    int* rows = inline_rows;
    if (model.arguments.size() > kInline) more_rows.resize(model.arguments.size()), rows = more_rows.data();
    for (size_t k = 0; k < model.arguments.size(); ++k) rows[k] = plan.find(model.arguments[k].first);
    int* const rows_end = rows + model.arguments.size();
    auto passed = [&](int row) { return std::find(rows, rows_end, row) != rows_end; };  // some argument is it
    for (size_t r = 0; r < plan.params.size(); ++r)
        if (plan.params[r].required && !passed(int(r)))
            return invalid("simple_function_checker:missing_required", Category::ParamMissing);
    for (size_t k = 0; k < model.arguments.size(); ++k) {
        const BfclParam* param = rows[k] < 0 ? nullptr : &plan.params[size_t(rows[k])];
        const bool in_schema = param && param->in_schema;
        if (!in_schema || param->gold < 0)
            return invalid("simple_function_checker:unexpected_param",
                           in_schema ? Category::ParamRedundant : Category::ParamHallucination);
        const GoldParam& gold = answer.params[size_t(param->gold)];
        const std::optional<K> expected = kind_of(param->type);
        if (!expected) return invalid("checker:unsupported_type");
        std::optional<K> nested;
        if (*expected == K::List) {  // "array" or "tuple"
            nested = kind_of(param->item_type);
            if (!nested) return invalid("checker:unsupported_type");
        }
        const Value* given = &model.arguments[k].second;
        Value converted;  // only tuples (-> list) and ints for floats (-> float) are copied
        if (given->kind == K::Tuple && param->tuple) {
            converted = *given;
            converted.kind = K::List;
            given = &converted;
        } else if (*expected == K::Float && given->kind == K::Int) {  // type "float"
            converted = Value::real(double(given->i));
            given = &converted;
        }
        const Value& value = *given;
        const Check tc = type_checker(value, gold.accepted, *expected, nested, kind_of(param->answer_type));
        if (!tc.valid) return tc;
        if (!tc.is_variable) {
            if (*expected == K::Dict) {
                const Check r = dict_checker(value, gold.accepted);
                if (!r.valid) return r;
                continue;
            }
            if (*expected == K::List && nested == K::Dict) {
                const Check r = list_dict_checker(value, gold.accepted);
                if (!r.valid) return r;
                continue;
            }
            if (*expected == K::Str) {
                const Check r = string_checker(value, plan, *param);
                if (!r.valid) return r;
                continue;
            }
            if (*expected == K::List) {
                const Check r = list_checker(value, gold.accepted);
                if (!r.valid) return r;
                continue;
            }
        }
        if (!py_in(value, gold.accepted)) return invalid("value_error:others");
    }
    for (size_t r = 0; r < plan.params.size(); ++r) {
        const BfclParam& p = plan.params[r];
        if (p.gold >= 0 && !p.optional && !passed(int(r)))
            return invalid("simple_function_checker:missing_optional", Category::ParamMissing);
    }
    return {};
}

Check parallel_function_checker_no_order(const std::vector<BfclCall>& model, const Problem& problem) {
    if (model.size() != problem.gold.size())
        return invalid("parallel_function_checker_no_order:wrong_count", Category::CountMismatch);
    std::vector<bool> matched(model.size(), false);
    for (const GoldCall& answer : problem.gold) {
        bool found = false;
        std::optional<Check> first_error;
        for (size_t k = 0; k < model.size() && !found; ++k) {
            if (matched[k]) continue;
            const Check r = simple_function_checker(model[k], answer, problem);
            if (r.valid) matched[k] = found = true;
            else if (!first_error) first_error = r;
        }
        if (!found)
            return invalid("parallel_function_checker_no_order:cannot_find_match",
                           first_error ? first_error->category : Category::CountMismatch);
    }
    return {};
}

Check ast_checker(const std::vector<BfclCall>& model, const Problem& problem) {
    if (problem.bfcl_checker == BfclChecker::Parallel) return parallel_function_checker_no_order(model, problem);
    if (problem.bfcl_checker == BfclChecker::Multiple) {
        if (model.size() != problem.gold.size())
            return invalid("multiple_function_checker:wrong_count", Category::CountMismatch);
        return simple_function_checker(model[0], problem.gold[0], problem);
    }
    if (model.size() != 1) return invalid("simple_function_checker:wrong_count", Category::CountMismatch);
    return simple_function_checker(model[0], problem.gold[0], problem);  // the plan's tool: tools[0]
}


}  // namespace

std::string bfcl_standardize(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    standardize_each(s, [&](char c) { return out += c, true; });
    return out;
}

int BfclPlan::find(std::string_view param) const {
    for (size_t r = 0; r < params.size(); ++r) {
        const BfclParam& p = params[r];
        if (p.name_size == param.size() && (param.empty() || (text[p.name] == param[0] && name(p) == param)))
            return int(r);
    }
    return -1;
}

namespace {

int8_t kind_code(std::optional<K> k) { return k ? int8_t(*k) : int8_t(-1); }

// The plan of `gold` checked against `tool` (none: BFCL's "function not in tools").
BfclPlan plan_of(const ToolSchema* tool, const GoldCall& gold) {
    BfclPlan plan;
    if (!tool) return plan;
    plan.has_tool = true;
    std::string text = tool->bfcl_name;
    plan.tool_name_size = uint32_t(text.size());
    std::vector<BfclParam>& params = plan.params;
    auto row = [&](const std::string& name) -> BfclParam& {  // the first parameter of that name, or a new one
        for (BfclParam& p : params)
            if (std::string_view(text).substr(p.name, p.name_size) == name) return p;
        BfclParam& p = params.emplace_back();
        p.name = uint32_t(text.size());
        p.name_size = uint32_t(name.size());
        text += name;
        return p;
    };
    for (const ParamSchema& schema : tool->params) {
        BfclParam& p = row(schema.name);
        if (p.in_schema) continue;  // ToolSchema::find: the first of a name
        p.in_schema = true;
        p.type = kind_code(python_type(schema.type));
        p.item_type = schema.has_item_type ? kind_code(python_type(schema.item_type)) : -1;
        p.tuple = schema.type == "tuple";
    }
    for (const std::string& name : tool->required) row(name).required = true;
    for (size_t g = 0; g < gold.params.size(); ++g) {
        const GoldParam& answer = gold.params[g];
        BfclParam& p = row(answer.name);
        if (p.gold >= 0) continue;  // GoldCall::find: the first of a name
        p.gold = int32_t(g);
        p.optional = answer.optional;
        p.answer_type = kind_code(possible_answer_type(answer.accepted));
        p.options = uint32_t(plan.options.size());
        for (const Value& o : answer.accepted) {
            if (o.kind != K::Str) continue;
            const std::string standardized = bfcl_standardize(o.s);
            plan.options.emplace_back(uint32_t(text.size()), uint32_t(standardized.size()));
            text += standardized;
        }
        p.options_end = uint32_t(plan.options.size());
    }
    plan.text = text;  // copies at the exact size: the plan's few blocks are allocated together, last
    params.shrink_to_fit();
    plan.options.shrink_to_fit();
    return plan;
}

}  // namespace

void bfcl_prepare(Problem* problem) {
    const std::string& cat = problem->bfcl_category;
    problem->bfcl_checker = cat.find("parallel") != std::string::npos   ? BfclChecker::Parallel
                            : cat.find("multiple") != std::string::npos ? BfclChecker::Multiple
                                                                        : BfclChecker::Simple;
    for (ToolSchema& tool : problem->tools) {
        tool.bfcl_name = tool.name;  // BFCL's convert_func_name: re.sub(r"\.", "_", name) for such models
        if (problem->bfcl.underscore_to_dot)
            for (char& c : tool.bfcl_name) c = c == '.' ? '_' : c;
    }
    for (GoldCall& g : problem->gold) {
        // The tool the checker uses: simple_function_checker gets func_description[0] in the simple
        // categories, the gold's own tool in the others.
        const ToolSchema* tool = problem->bfcl_checker != BfclChecker::Simple ? problem->find_tool(g.name)
                                 : problem->tools.empty()                      ? nullptr
                                                                               : &problem->tools[0];
        g.bfcl = plan_of(tool, g);
    }
}

bool bfcl_decode(std::string_view text, std::vector<BfclCall>* out) {
    ParseError err;
    if (!check_input(text, &err)) return false;
    auto strip_char = [](char c) { return c == '`' || c == '\n' || c == ' '; };
    size_t b = 0, e = text.size();
    while (b < e && strip_char(text[b])) ++b;
    while (e > b && strip_char(text[e - 1])) --e;
    // BFCL adds the brackets that are missing; most answers have both, and are parsed in place.
    std::string_view src = text.substr(b, e - b);
    std::string wrapped;
    if (src.empty() || src.front() != '[' || src.back() != ']') {
        wrapped.reserve(src.size() + 2);
        if (src.empty() || src.front() != '[') wrapped += '[';
        wrapped += src;
        if (wrapped.back() != ']') wrapped += ']';
        src = wrapped;
    }
    // BFCL then applies .strip().strip("'"): no-ops on a string that starts with '[' and ends with ']'.
    if (parse_plain_call_list(src, out, /*names_as_strings=*/true)) {  // the usual shape, without the Expr tree
        for (BfclCall& call : *out) call.positional.clear();  // resolve_call: BFCL drops them
        return true;
    }
    out->clear();
    Expr body;
    if (!parse_python_expression(src, 0, &body, &err)) return false;
    if (body.kind != Expr::Kind::List) return false;
    out->reserve(body.kids.size());
    for (Expr& element : body.kids) {
        if (element.kind != Expr::Kind::Call) return false;
        BfclCall call;
        if (!resolve_call(element, &call)) return false;
        out->push_back(std::move(call));
    }
    return true;
}

bool bfcl_relevance_category(std::string_view category) {
    return category.find("relevance") != std::string_view::npos;  // also "irrelevance"
}

namespace {

BfclDecoded decode_prompt(std::string_view text) {
    BfclDecoded d;
    d.status = bfcl_decode(text, &d.calls) ? BfclDecoded::Status::Calls : BfclDecoded::Status::Failed;
    return d;
}

// The IRM category of an answer that holds no call BFCL can use: an abstention (a text message, an empty
// list, text not opening with '[' that the tool-call parser reads as holding no call) is "irrelevant",
// anything else a format error.
Category no_call_category(const BfclDecoded& d, std::string_view text, const Problem& problem) {
    if (d.status == BfclDecoded::Status::WrongFormat) return Category::FormatError;
    if (d.status == BfclDecoded::Status::Calls || d.message) return Category::Irrelevant;
    if (problem.bfcl.mode == BfclMode::FC) return Category::FormatError;  // JSON that is no result layout
    // Text that opens like BFCL's call list is a broken call; only other text is worth a parse (RL speed).
    size_t b = 0;
    while (b < text.size() && (text[b] == '`' || text[b] == '\n' || text[b] == ' ')) ++b;
    if (b < text.size() && text[b] == '[') return Category::FormatError;
    const ParseResult parsed = parse_tool_calls(text);
    return parsed.ok && parsed.calls.empty() ? Category::Irrelevant : Category::FormatError;
}

// _evaluate_single_relevance_entry: a call is a successful decode that is not is_empty_output.
BfclResult relevance_verdict(const BfclDecoded& d, std::string_view text, const Problem& problem) {
    BfclResult out;
    const bool has_call = d.status == BfclDecoded::Status::Calls && !d.calls.empty();
    out.valid = has_call == (problem.expect == Expect::AnyCall);
    if (out.valid) return out.category = Category::Correct, out;
    if (problem.expect == Expect::AnyCall) {
        out.error_type = "relevance_error:decoder_failed";
        out.category = no_call_category(d, text, problem);
        return out;
    }
    out.error_type = "irrelevance_error:decoder_success";
    out.category = Category::WrongTool;  // every offered tool is wrong here; an unoffered one is worse
    for (const BfclCall& call : d.calls)
        if (!problem.find_bfcl_tool(call.name)) out.category = Category::ToolHallucination;
    return out;
}

}  // namespace

BfclResult bfcl_check(std::string_view prediction, const Problem& problem) {
    const BfclDecoded d = problem.bfcl.mode == BfclMode::FC ? bfcl_decode_fc(prediction) : decode_prompt(prediction);
    if (problem.expect != Expect::Calls) return relevance_verdict(d, prediction, problem);
    BfclResult out;
    if (d.status != BfclDecoded::Status::Calls) {  // _evaluate_single_ast_entry's two decoder errors
        out.error_type = d.status == BfclDecoded::Status::Failed ? "ast_decoder:decoder_failed"
                                                                 : "ast_decoder:decoder_wrong_output_format";
        out.category = no_call_category(d, prediction, problem);
        return out;
    }
    const Check r = ast_checker(d.calls, problem);
    out.valid = r.valid;
    out.error_type = r.valid ? "" : r.error_type;
    out.category = r.valid ? Category::Correct : d.calls.empty() ? Category::Irrelevant : r.category;
    return out;
}

}  // namespace tl_fast
