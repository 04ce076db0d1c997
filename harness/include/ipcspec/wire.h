// ipcspec/wire.h: the little-endian byte encoding shared by the sandbox's
// report frames, fork-server requests and scenario files.
//
//   WireWriter w;  w.U8(1);  w.Str("hello");
//   WireReader r(w.data());  uint8_t tag;  std::string s;
//   if (!r.U8(&tag) || !r.Str(&s)) { /* truncated or malformed */ }
#ifndef IPCSPEC_WIRE_H_
#define IPCSPEC_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace ipcspec {

class WireWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  const std::string& data() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Raw(const void* p, size_t n) {
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian hosts only");
    out_.append(static_cast<const char*>(p), n);
  }
  std::string out_;
};

// Every getter returns false, and leaves the reader failed, when the input
// is too short; strings longer than max_string are refused.
class WireReader {
 public:
  explicit WireReader(std::string_view in, size_t max_string = 1 << 24)
      : in_(in), max_string_(max_string) {}
  bool U8(uint8_t* v) { return Raw(v, 1); }
  bool U32(uint32_t* v) { return Raw(v, 4); }
  bool U64(uint64_t* v) { return Raw(v, 8); }
  bool Str(std::string* s) {
    uint32_t n;
    if (!U32(&n) || n > max_string_ || n > in_.size()) return ok_ = false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool ok() const { return ok_; }
  bool empty() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }

 private:
  bool Raw(void* p, size_t n) {
    if (!ok_ || in_.size() < n) return ok_ = false;
    __builtin_memcpy(p, in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  std::string_view in_;
  size_t max_string_;
  bool ok_ = true;
};

// A frame on a pipe: u32 length, then the payload. Both return 0 or -errno;
// ReadFrame returns -EPIPE at a clean end of file before any byte and
// -EPROTO on a frame cut short or longer than max_len.
int WriteFrame(int fd, std::string_view payload);
int ReadFrame(int fd, std::string* payload, size_t max_len = 1 << 26);

}  // namespace ipcspec

#endif  // IPCSPEC_WIRE_H_
