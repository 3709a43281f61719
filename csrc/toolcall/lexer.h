// The scanning every reader shares: character classes, UTF-8, Python identifiers (PEP 3131), the input checks, and
// the text helpers of the format readers (special tokens, code fences, line keys, the "is this prose" test).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "toolcall.h"

namespace tl_fast::lex {

inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
inline bool is_json_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
int hex_value(unsigned char c);

// Bytes a Python name may be scanned over: ASCII letters, digits, '_' and every byte >= 0x80 (CPython's
// tokenizer reads any non-ASCII character into a name, then checks the name against PEP 3131). One table
// lookup per byte: names are most of what the parser scans.
enum NameByte : uint8_t { kNameStart = 1, kNameByte = 2, kAsciiNameByte = 4 };
inline constexpr std::array<uint8_t, 256> kNameBytes = [] {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        const bool start = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
        const bool byte = start || (c >= '0' && c <= '9');
        t[size_t(c)] = uint8_t((start ? kNameStart : 0) | (byte ? kNameByte : 0) | (byte && c < 0x80 ? kAsciiNameByte : 0));
    }
    return t;
}();
inline bool id_start_byte(unsigned char c) { return kNameBytes[c] & kNameStart; }
inline bool id_byte(unsigned char c) { return kNameBytes[c] & kNameByte; }
inline bool ascii_id_byte(unsigned char c) { return kNameBytes[c] & kAsciiNameByte; }

void append_utf8(std::string& out, uint32_t cp);
// The code point starting at s[k] of valid UTF-8; *length receives its byte count.
uint32_t decode_utf8(std::string_view s, size_t k, size_t* length);

bool xid_start(uint32_t cp);
bool xid_continue(uint32_t cp);
bool printable(uint32_t cp);  // str.isprintable() of one character

// A scanned name (id_byte run, valid UTF-8) checked as Python checks it: the first character XID_Start or '_',
// the others XID_Continue; then NFKC-normalized into *out. False when the name is not an identifier.
bool python_identifier(std::string_view raw, std::string* out);

// ---- text helpers of the format readers (byte ranges [b, e) of the input) ----
size_t skip_space(std::string_view t, size_t b, size_t e);
size_t trim_end(std::string_view t, size_t b, size_t e);
// Start of the first line in [b, e) that begins with `key` after optional spaces/tabs, or npos.
size_t find_line_key(std::string_view t, size_t b, size_t e, std::string_view key);
// Whitespace and chat special tokens (<|eot_id|>, <end_of_turn>, </s>, ...) stripped at both ends.
void strip_special(std::string_view t, size_t* b, size_t* e);
// ```lang ... ``` : the body of the first fence that opens a line (the closing fence may be missing).
bool fence_body(std::string_view t, size_t b, size_t e, size_t* body_b, size_t* body_e);
// No line of [b, e) starts (after blanks) with '[', '{' or a call head `name(` / `a.b(`: text that holds no call
// attempt, "no call" rather than a malformed one when no reader accepts it.
bool is_prose(std::string_view t, size_t b, size_t e);

}  // namespace tl_fast::lex
