// JSON (RFC 8259, as Python's json.loads reads it: ints stay ints, the last duplicate key wins, no NaN / Infinity).
#pragma once

#include <string_view>

#include "toolcall.h"

namespace tl_fast {

class JsonParser {
   public:
    JsonParser(std::string_view src, size_t base) : src_(src), base_(base) {}

    // One value starting at *pos (leading whitespace skipped); *pos is left just after it.
    bool value_at(size_t* pos, Value* out);
    const ParseError& error() const { return err_; }

   private:
    std::string_view src_;
    size_t base_;
    size_t pos_ = 0;
    ParseError err_;

    bool fail(const char* reason);
    unsigned char peek(size_t ahead = 0) const {
        return pos_ + ahead < src_.size() ? (unsigned char)src_[pos_ + ahead] : 0;
    }
    void skip_ws();
    bool literal(std::string_view word);
    bool value(Value* out, int depth);
    bool number(Value* out);
    bool hex4(uint32_t* cp);
    bool string(std::string* out);
};

}  // namespace tl_fast
