// Character classes, PEP 3131 identifiers (tables generated from Python's unicodedata), input checks, text helpers.
#include "lexer.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "unicode_data.h"

namespace tl_fast {

namespace lex {

namespace ud = unicode_data;

int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

uint32_t decode_utf8(std::string_view s, size_t k, size_t* length) {
    const unsigned char c = (unsigned char)s[k];
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    n = std::min(n, s.size() - k);
    uint32_t cp = n == 1 ? c : c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t m = 1; m < n; ++m) cp = (cp << 6) | ((unsigned char)s[k + m] & 0x3F);
    *length = n;
    return cp;
}

namespace {

template <size_t N>
bool in_ranges(const uint32_t (&table)[N][2], uint32_t cp) {
    const auto* it = std::upper_bound(std::begin(table), std::end(table), cp,
                                      [](uint32_t v, const uint32_t(&r)[2]) { return v < r[0]; });
    return it != std::begin(table) && cp <= (*(it - 1))[1];
}

int combining_class(uint32_t cp) {
    if (cp < 0x300) return 0;
    const auto* it = std::upper_bound(std::begin(ud::kCombiningClass), std::end(ud::kCombiningClass), cp,
                                      [](uint32_t v, const uint32_t(&r)[3]) { return v < r[0]; });
    if (it == std::begin(ud::kCombiningClass) || cp > (*(it - 1))[1]) return 0;
    return int((*(it - 1))[2]);
}

// Hangul syllables (Unicode §3.12): decomposed and composed arithmetically, not by table.
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kSCount = kLCount * kVCount * kTCount;

void decompose(uint32_t cp, std::vector<uint32_t>* out) {
    if (cp >= kSBase && cp < kSBase + kSCount) {
        const uint32_t s = cp - kSBase;
        out->push_back(kLBase + s / (kVCount * kTCount));
        out->push_back(kVBase + (s % (kVCount * kTCount)) / kTCount);
        if (s % kTCount) out->push_back(kTBase + s % kTCount);
        return;
    }
    const auto* it = std::lower_bound(std::begin(ud::kDecompositions), std::end(ud::kDecompositions), cp,
                                      [](const ud::Decomposition& d, uint32_t v) { return d.cp < v; });
    if (it == std::end(ud::kDecompositions) || it->cp != cp) return out->push_back(cp);
    out->insert(out->end(), ud::kDecompPool + it->offset, ud::kDecompPool + it->offset + it->length);
}

bool compose(uint32_t a, uint32_t b, uint32_t* out) {
    if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
        *out = kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
        return true;
    }
    if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount) {
        *out = a + (b - kTBase);
        return true;
    }
    const auto* it = std::lower_bound(std::begin(ud::kCompositions), std::end(ud::kCompositions), std::make_pair(a, b),
                                      [](const uint32_t(&r)[3], std::pair<uint32_t, uint32_t> v) {
                                          return r[0] != v.first ? r[0] < v.first : r[1] < v.second;
                                      });
    if (it == std::end(ud::kCompositions) || (*it)[0] != a || (*it)[1] != b) return false;
    *out = (*it)[2];
    return true;
}

// NFKC (UAX #15): compatibility decomposition, canonical ordering, canonical composition.
std::vector<uint32_t> nfkc(const std::vector<uint32_t>& cps) {
    std::vector<uint32_t> d;
    d.reserve(cps.size() * 2);
    for (uint32_t cp : cps) decompose(cp, &d);
    for (size_t k = 1; k < d.size(); ++k) {  // stable insertion sort of each run of non-starters by class
        const int cc = combining_class(d[k]);
        if (cc == 0) continue;
        for (size_t m = k; m > 0; --m) {
            const int prev = combining_class(d[m - 1]);
            if (prev == 0 || prev <= cc) break;
            std::swap(d[m - 1], d[m]);
        }
    }
    std::vector<uint32_t> out;
    out.reserve(d.size());
    size_t starter = SIZE_MAX;
    int last_cc = 0;
    for (uint32_t cp : d) {
        const int cc = combining_class(cp);
        if (starter != SIZE_MAX) {
            const bool adjacent = out.size() - 1 == starter;
            uint32_t composite;
            if ((adjacent || (last_cc != 0 && last_cc < cc)) && compose(out[starter], cp, &composite)) {
                out[starter] = composite;
                continue;
            }
        }
        if (cc == 0) starter = out.size();
        out.push_back(cp);
        last_cc = cc;
    }
    return out;
}

}  // namespace

bool xid_start(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    return in_ranges(ud::kXidStart, cp);
}

bool xid_continue(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '_';
    return in_ranges(ud::kXidContinue, cp);
}

bool printable(uint32_t cp) {
    if (cp < 0x80) return cp >= 0x20 && cp < 0x7F;
    return !in_ranges(ud::kNonPrintable, cp);
}

bool python_identifier(std::string_view raw, std::string* out) {
    std::vector<uint32_t> cps;
    for (size_t k = 0; k < raw.size();) {
        size_t n;
        const uint32_t cp = decode_utf8(raw, k, &n);
        if (cps.empty() ? !(xid_start(cp) || cp == '_') : !xid_continue(cp)) return false;
        cps.push_back(cp);
        k += n;
    }
    out->clear();
    for (uint32_t cp : nfkc(cps)) append_utf8(*out, cp);
    return true;
}

size_t skip_space(std::string_view t, size_t b, size_t e) {
    while (b < e && is_space((unsigned char)t[b])) ++b;
    return b;
}

size_t trim_end(std::string_view t, size_t b, size_t e) {
    while (e > b && is_space((unsigned char)t[e - 1])) --e;
    return e;
}

size_t find_line_key(std::string_view t, size_t b, size_t e, std::string_view key) {
    const std::string_view view = t.substr(0, e);
    for (size_t p = view.find(key, b); p != std::string_view::npos; p = view.find(key, p + 1)) {
        size_t q = p;
        while (q > b && (t[q - 1] == ' ' || t[q - 1] == '\t')) --q;
        if (q == 0 || q == b || t[q - 1] == '\n' || t[q - 1] == '\r') return p;
    }
    return std::string_view::npos;
}

namespace {

// <|python_tag|> is not stripped: it marks a Llama tool call (format_llama.cpp).
bool is_special_token(std::string_view tok) {
    if (tok == "<|python_tag|>") return false;
    if (tok == "</s>" || tok == "<eos>" || tok == "<end_of_turn>" || tok == "<eot>" || tok == "<end_of_text>")
        return true;
    if (tok.size() < 4 || tok.substr(0, 2) != "<|" || tok.substr(tok.size() - 2) != "|>") return false;
    for (char c : tok.substr(2, tok.size() - 4))
        if (is_space((unsigned char)c) || c == '<' || c == '>') return false;
    return true;
}

}  // namespace

void strip_special(std::string_view t, size_t* b, size_t* e) {
    for (bool changed = true; changed;) {
        changed = false;
        *b = skip_space(t, *b, *e);
        *e = trim_end(t, *b, *e);
        if (*e > *b && t[*e - 1] == '>') {
            const size_t lt = t.substr(0, *e).rfind('<');
            if (lt != std::string_view::npos && lt >= *b && is_special_token(t.substr(lt, *e - lt))) {
                *e = lt;
                changed = true;
            }
        }
        if (*e > *b && t[*b] == '<') {
            const size_t gt = t.substr(0, *e).find('>', *b);
            if (gt != std::string_view::npos && is_special_token(t.substr(*b, gt + 1 - *b))) {
                *b = gt + 1;
                changed = true;
            }
        }
    }
}

bool fence_body(std::string_view t, size_t b, size_t e, size_t* body_b, size_t* body_e) {
    const size_t open = find_line_key(t, b, e, "```");
    if (open == std::string_view::npos) return false;
    size_t p = open + 3;
    size_t q = p;
    while (q < e && id_byte((unsigned char)t[q])) ++q;  // optional language tag
    if (q == e || t[q] == '\n' || t[q] == '\r' || t[q] == ' ') p = q;
    const size_t close = t.substr(0, e).find("```", p);
    *body_b = p;
    *body_e = close == std::string_view::npos ? e : close;
    return true;
}

bool is_prose(std::string_view t, size_t b, size_t e) {
    size_t p = b;
    while (p < e) {
        while (p < e && (t[p] == ' ' || t[p] == '\t' || t[p] == '\f' || t[p] == '\v')) ++p;
        if (p < e && (t[p] == '[' || t[p] == '{')) return false;
        // a call head: name(.name)* immediately followed by '('
        size_t q = p;
        while (q < e && id_start_byte((unsigned char)t[q])) {
            ++q;
            while (q < e && id_byte((unsigned char)t[q])) ++q;
            if (q < e && t[q] == '(') return false;
            if (q + 1 < e && t[q] == '.' && id_start_byte((unsigned char)t[q + 1])) ++q;
            else break;
        }
        while (p < e && t[p] != '\n' && t[p] != '\r') ++p;
        while (p < e && (t[p] == '\n' || t[p] == '\r')) ++p;
    }
    return true;
}

}  // namespace lex

bool valid_utf8(std::string_view s, size_t* bad) {
    size_t k = 0;
    while (k < s.size()) {
        if (k + 8 <= s.size()) {  // 8 ASCII bytes at a time
            uint64_t word;
            std::memcpy(&word, s.data() + k, 8);
            if ((word & 0x8080808080808080ull) == 0) {
                k += 8;
                continue;
            }
        }
        const unsigned char c = (unsigned char)s[k];
        size_t n = 0;
        uint32_t cp = 0, min = 0;
        if (c < 0x80) {
            ++k;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            *bad = k;
            return false;
        }
        for (size_t m = 1; m <= n; ++m) {
            if (k + m >= s.size() || ((unsigned char)s[k + m] & 0xC0) != 0x80) {
                *bad = k;
                return false;
            }
            cp = (cp << 6) | ((unsigned char)s[k + m] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            *bad = k;
            return false;
        }
        k += n + 1;
    }
    return true;
}

bool check_input(std::string_view text, ParseError* err) {
    if (text.size() > kMaxInputBytes) return *err = {0, "input longer than the limit"}, false;
    size_t bad = 0;
    if (!valid_utf8(text, &bad)) return *err = {bad, "invalid UTF-8"}, false;
    const size_t nul = text.find('\0');
    if (nul != std::string_view::npos) return *err = {nul, "null byte in the input"}, false;
    return true;
}

const char* unicode_version() { return unicode_data::kVersion; }

}  // namespace tl_fast
