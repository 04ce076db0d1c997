#include "properties/model/model.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/util.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

constexpr size_t kCounterSize = sizeof(uint64_t);
// The largest sum a counter holds (eventfd(2)); one more add waits.
constexpr uint64_t kCounterMax = 0xfffffffffffffffe;
constexpr uint64_t kMaxPayload = uint64_t{2} << 20;  // over any max_message used
constexpr uint32_t kWriter = 1;                      // the payload pattern's writer id
// ModelPayloadView keeps the patterns of the first messages, up to a size:
// as many messages as a fuzz input may send (512 steps), whose patterns were
// otherwise computed again for every send and every receive.
constexpr uint64_t kCachedMessages = 512, kCachedBytes = uint64_t{1} << 18;

}  // namespace

size_t ModelPayloadMismatch(uint64_t msg, uint64_t off, std::span<const std::byte> got) {
  if (got.empty()) return 0;  // (an empty span's data() may be null: no memcmp)
  if (msg >= kCachedMessages || off + got.size() > kCachedBytes) {
    return PayloadMismatch(kWriter, msg, off, got);
  }
  const std::span<const std::byte> want = ModelPayloadView(Capabilities{}, msg, off + got.size());
  if (std::memcmp(want.data() + off, got.data(), got.size()) == 0) return got.size();
  return std::mismatch(got.begin(), got.end(), want.begin() + static_cast<ptrdiff_t>(off)).first -
         got.begin();
}

namespace {

bool IsMessage(std::span<const std::byte> got, uint64_t msg, uint64_t size) {
  return got.size() == size && ModelPayloadMismatch(msg, 0, got) == size;
}

std::string Got(int rc, size_t n) { return rc == 0 ? ByteCount(n) : Errno(rc); }

// What an empty channel gives: END once the writer closed (peer_close),
// otherwise -EAGAIN, or -ETIMEDOUT after a bounded wait. (Without
// peer_close, END is allowed once the writer closed: see CheckEmpty.)
int EmptyCode(bool peer_close, bool closed, bool waited) {
  if (peer_close && closed) return kEnd;
  return waited ? -ETIMEDOUT : -EAGAIN;
}

std::string CheckEmpty(bool peer_close, bool closed, bool waited, int rc, size_t n,
                       bool small_buffer = false) {
  const int want = EmptyCode(peer_close, closed, waited);
  if (rc == want) return "";
  // Without peer_close a transport may still report END, once the writer
  // has closed (plugin.h), but need not.
  if (closed && rc == kEnd) return "";
  // A queue may refuse a buffer under max_message before looking (mq_receive).
  if (small_buffer && rc == -EMSGSIZE) return "";
  return absl::StrFormat("expected %s (the channel is empty%s), got %s", Errno(want),
                         closed ? " and the writer closed" : "", Got(rc, n));
}

// A send over max_message must be refused with -EMSGSIZE.
std::string CheckOversize(const Capabilities& c, uint64_t size, int rc, size_t sent) {
  if (rc == -EMSGSIZE) return "";
  return absl::StrFormat("expected -EMSGSIZE (%d bytes is over max_message %d), got %s", size,
                         c.max_message, Got(rc, sent));
}

// Whether a non-blocking send of `size` bytes may be refused while the
// channel holds at most `bytes` payload in `count` messages (plugin.h,
// caps.capacity): only near a declared bound, as near as the room a message
// may cost beyond its payload allows.
bool MayRefuse(const Capabilities& c, uint64_t bytes, uint64_t count, uint64_t size) {
  if (c.capacity > 0 && size > c.capacity) return true;   // never fits whole
  if (bytes == 0 && count == 0) return false;             // an empty channel takes it
  if (c.capacity == 0 && c.max_queued == 0) return true;  // no bound declared
  if (c.max_queued > 0 && count >= c.max_queued) return true;
  if (c.capacity == 0) return false;
  switch (c.overhead) {
    case Overhead::kNone:
      return bytes + size > c.capacity;
    case Overhead::kBounded:
      return 2 * bytes >= c.capacity || bytes + size > c.capacity;
    case Overhead::kUnknown:
      return true;
  }
  return true;
}

// "" unless a send taken while the channel surely held `bytes` in `count`
// messages passes a declared bound.
std::string PastBound(const Capabilities& c, uint64_t bytes, uint64_t count, uint64_t taken) {
  if (c.max_queued > 0 && c.framing == Framing::kMessage && count >= c.max_queued) {
    return absl::StrFormat(
        "expected -EAGAIN (%d messages queued, max_queued %d), got the send "
        "taken",
        count, c.max_queued);
  }
  if (c.capacity > 0 && bytes + taken > c.capacity) {
    return absl::StrFormat(
        "expected -EAGAIN (%d bytes buffered, %d more pass capacity %d), got "
        "the send taken",
        bytes, taken, c.capacity);
  }
  return "";
}

// Whether a stream send may take only `sent` of its bytes with `bytes`
// already buffered.
bool MayTakePart(const Capabilities& c, uint64_t bytes, uint64_t sent) {
  if (c.capacity == 0) return true;
  switch (c.overhead) {
    case Overhead::kNone:
      return bytes + sent >= c.capacity;
    case Overhead::kBounded:
      return 2 * (bytes + sent) >= c.capacity;
    case Overhead::kUnknown:
      return true;
  }
  return true;
}

// What every model shares: the declared capabilities, whether the writer
// has closed, and the rule for a message over max_message, the same in every
// model: it is refused whole with -EMSGSIZE.
class CapsModel : public ReferenceModel {
 public:
  explicit CapsModel(const Capabilities& c) : c_(c) {}

  std::string OnSend(uint64_t msg, uint64_t size, int rc, size_t sent) final {
    if (c_.max_message > 0 && size > c_.max_message) return CheckOversize(c_, size, rc, sent);
    return OnSendWithin(msg, size, rc, sent);
  }
  void OnCloseWriter() final { closed_ = true; }

 protected:
  // A send of at most max_message bytes (or of any size when none is
  // declared).
  virtual std::string OnSendWithin(uint64_t msg, uint64_t size, int rc, size_t sent) = 0;

  const Capabilities c_;
  bool closed_ = false;
};

class StreamModel : public CapsModel {
 public:
  using CapsModel::CapsModel;

  std::string OnSendWithin(uint64_t msg, uint64_t size, int rc, size_t sent) override {
    const uint64_t buffered = write_pos_ - read_pos_;
    if (rc == -EAGAIN) {
      if (size > 0 && MayRefuse(c_, buffered, segments_.size(), size)) return "";
      return absl::StrFormat("expected the send to be taken (%d bytes buffered%s), got -EAGAIN",
                             buffered,
                             c_.capacity ? absl::StrFormat(" of capacity %d", c_.capacity) : "");
    }
    if (rc != 0) return absl::StrFormat("expected the send to be taken, got %s", Errno(rc));
    if (sent > size) return absl::StrFormat("%d bytes reported sent of %d", sent, size);
    if (size > 0 && sent == 0) return "a stream send of more than 0 bytes took 0 bytes";
    if (sent < size && !MayTakePart(c_, buffered, sent)) {
      return absl::StrFormat("only %d of %d bytes taken with %d bytes buffered of capacity %d",
                             sent, size, buffered, c_.capacity);
    }
    if (c_.reliable) {
      if (std::string e = PastBound(c_, buffered, 0, sent); !e.empty()) return e;
    }
    if (sent > 0) segments_.push_back({msg, write_pos_, sent});
    write_pos_ += sent;
    return "";
  }

  bool MustDeliver(uint64_t) const override {
    return (c_.reliable && read_pos_ < write_pos_) || (closed_ && c_.peer_close);
  }

  std::string OnRecv(uint64_t cap, bool waited, int rc, std::span<const std::byte> got) override {
    const uint64_t buffered = write_pos_ - read_pos_;
    if (buffered == 0) return CheckEmpty(c_.peer_close, closed_, waited, rc, got.size());
    // A lossy stream may stop short: what is left may never come.
    if (!c_.reliable && (rc == -EAGAIN || rc == -ETIMEDOUT)) return "";
    if (!c_.reliable && rc == kEnd && closed_) {
      read_pos_ = write_pos_;
      segments_.clear();
      return "";
    }
    // Made only for a failure: formatting it for every receive was two
    // strings on the heap per step.
    auto want = [&] {
      return absl::StrFormat("expected 1 to %d bytes (%s)", std::min<uint64_t>(cap, buffered),
                             Where());
    };
    if (rc != 0) return absl::StrFormat("%s, got %s", want(), Errno(rc));
    if (got.empty() || got.size() > std::min<uint64_t>(cap, buffered)) {
      return absl::StrFormat("%s, got %d bytes", want(), got.size());
    }
    size_t done = 0;
    for (const Segment& seg : segments_) {
      if (done == got.size()) break;
      const uint64_t pos = read_pos_ + done;
      if (pos >= seg.start + seg.len) continue;
      const uint64_t off = pos - seg.start;
      const size_t n = std::min<uint64_t>(seg.len - off, got.size() - done);
      const size_t k = ModelPayloadMismatch(seg.msg, off, got.subspan(done, n));
      if (k < n) {
        const std::string expected = want();
        read_pos_ += done + k;
        std::string where = Where();
        read_pos_ -= done + k;
        return absl::StrFormat("%s, got %d bytes that differ from byte %d on (%s)", expected,
                               got.size(), done + k, where);
      }
      done += n;
    }
    read_pos_ += got.size();
    while (!segments_.empty() && segments_.front().start + segments_.front().len <= read_pos_) {
      segments_.pop_front();
    }
    return "";
  }

  bool Empty() const override { return read_pos_ == write_pos_ || !c_.reliable; }
  std::string Holds() const override { return absl::StrFormat("%d bytes", write_pos_ - read_pos_); }
  uint64_t SureBytes() const override { return c_.reliable ? write_pos_ - read_pos_ : 0; }

 private:
  struct Segment {
    uint64_t msg, start, len;
  };
  // "message 2 from byte 4"
  std::string Where() const {
    for (const Segment& s : segments_) {
      if (read_pos_ >= s.start && read_pos_ < s.start + s.len) {
        return read_pos_ == s.start
                   ? absl::StrFormat("message %d", s.msg)
                   : absl::StrFormat("message %d from byte %d", s.msg, read_pos_ - s.start);
      }
    }
    return "?";
  }

  std::deque<Segment> segments_;
  uint64_t read_pos_ = 0, write_pos_ = 0;
};

// Messages whole; in order or not; each possibly gone (lossy, or refused
// with -EMSGSIZE by a transport that may drop it).
class QueueModel : public CapsModel {
 public:
  using CapsModel::CapsModel;

  std::string OnSendWithin(uint64_t msg, uint64_t size, int rc, size_t sent) override {
    if (rc == -EAGAIN) {
      if (MayRefuse(c_, bytes_, q_.size(), size)) return "";
      return absl::StrFormat("expected the message to be queued (%s queued), got -EAGAIN", Holds());
    }
    if (rc != 0) return absl::StrFormat("expected the message to be queued, got %s", Errno(rc));
    if (sent != size) {
      return absl::StrFormat("%d of %d bytes of a message reported sent", sent, size);
    }
    if (std::string e = PastBound(c_, sure_bytes_, sure_count_, size); !e.empty()) return e;
    q_.push_back({msg, size, !c_.reliable});
    bytes_ += size;
    if (!q_.back().maybe) Count(q_.back(), true);
    return "";
  }

  bool MustDeliver(uint64_t) const override { return Owed() || (closed_ && c_.peer_close); }

  std::string OnRecv(uint64_t cap, bool waited, int rc, std::span<const std::byte> got) override {
    if (q_.empty()) {
      return CheckEmpty(c_.peer_close, closed_, waited, rc, got.size(), cap < c_.max_message);
    }
    if (rc == 0) return Take(got);
    if (rc == -EMSGSIZE) return Refused(cap);
    if ((rc == -EAGAIN || rc == -ETIMEDOUT) && !Owed()) return "";
    if (rc == kEnd && !Owed() && closed_) {
      Forget(q_.size());
      return "";
    }
    return absl::StrFormat("%s, got %s", Want(), Got(rc, got.size()));
  }

  bool Empty() const override { return !Owed(); }
  std::string Holds() const override {
    if (q_.empty()) return "no message";
    return absl::StrFormat("%d message%s, message %d first", q_.size(), q_.size() == 1 ? "" : "s",
                           q_.front().msg);
  }

 private:
  struct Entry {
    uint64_t msg, size;
    bool maybe;  // may be gone
  };

  bool Owed() const { return sure_count_ > 0; }
  // Adds an entry that cannot be gone to the counts of those (or takes it
  // away), kept as entries come, go and become maybe-gone, so that no step
  // walks the queue.
  void Count(const Entry& e, bool add) {
    if (add) {
      ++sure_count_;
      sure_bytes_ += e.size;
    } else {
      --sure_count_;
      sure_bytes_ -= e.size;
    }
  }
  // The messages that may come next: in order, up to and with the first
  // one that cannot be gone; unordered, any.
  size_t Candidates() const {
    if (!c_.ordered) return q_.size();
    for (size_t i = 0; i < q_.size(); ++i) {
      if (!q_[i].maybe) return i + 1;
    }
    return q_.size();
  }
  std::string Want() const {
    const Entry& e = q_[Candidates() - 1];
    return absl::StrFormat("expected %d bytes (message %d%s)", e.size, e.msg,
                           Candidates() > 1 ? ", or an earlier one that may be lost" : "");
  }
  void Forget(size_t n) {  // the first n entries are gone
    for (size_t i = 0; i < n; ++i) {
      bytes_ -= q_.front().size;
      if (!q_.front().maybe) Count(q_.front(), false);
      gone_.push_back(q_.front().msg);
      q_.pop_front();
    }
    while (gone_.size() > 16) gone_.pop_front();
  }

  // What came is the maybe-gone entry i, or a later candidate with the same
  // bytes that cannot be gone (two one-byte messages may be alike): then
  // either may be the one still to come, so neither is owed.
  void Blur(size_t i, std::span<const std::byte> got, size_t n) {
    for (size_t j = i + 1; j < n; ++j) {
      if (q_[j].maybe || !IsMessage(got, q_[j].msg, q_[j].size)) continue;
      Count(q_[j], false);
      q_[j].maybe = true;
      return;
    }
  }

  std::string Take(std::span<const std::byte> got) {
    const size_t n = Candidates();
    for (size_t i = 0; i < n; ++i) {
      if (!IsMessage(got, q_[i].msg, q_[i].size)) continue;
      if (q_[i].maybe) Blur(i, got, n);
      if (c_.ordered) {
        Forget(i + 1);
      } else {
        std::swap(q_[i], q_.front());
        Forget(1);
      }
      return "";
    }
    for (size_t i = n; i < q_.size(); ++i) {
      if (IsMessage(got, q_[i].msg, q_[i].size)) {
        return absl::StrFormat("%s, got message %d (%s)", Want(), q_[i].msg, ByteCount(q_[i].size));
      }
    }
    for (uint64_t m : gone_) {
      if (IsMessage(got, m, got.size())) {
        return absl::StrFormat(
            "%s, got message %d (%s), which is past (twice or out of "
            "order)",
            Want(), m, ByteCount(got.size()));
      }
    }
    return absl::StrFormat("%s, got %d bytes that are no message sent%s", Want(), got.size(),
                           Nearest(got));
  }

  // For bytes that are no message sent: where they first differ from the
  // first owed message of their size (a torn or corrupted copy of it, most
  // likely); "" when none has that size.
  std::string Nearest(std::span<const std::byte> got) const {
    for (const Entry& e : q_) {
      if (e.size != got.size() || got.empty()) continue;
      const std::span<const std::byte> want = ModelPayloadView(c_, e.msg, e.size, e.size);
      const size_t at = static_cast<size_t>(
          std::mismatch(want.begin(), want.end(), got.begin()).first - want.begin());
      if (at >= want.size()) return "";
      return absl::StrFormat(
          " (message %d has that size, and they first differ at byte %d: expected 0x%02x, got "
          "0x%02x)",
          e.msg, at, static_cast<unsigned>(want[at]), static_cast<unsigned>(got[at]));
    }
    return "";
  }

  // -EMSGSIZE: allowed when a message that may come next does not fit, or
  // the buffer is under max_message (then a fitting message stays).
  std::string Refused(uint64_t cap) {
    const size_t n = Candidates();
    bool some_too_big = false;
    for (size_t i = 0; i < n; ++i) some_too_big |= q_[i].size > cap;
    if (!some_too_big) {
      if (cap < c_.max_message) return "";  // refused before looking: nothing changes
      return absl::StrFormat("%s, got -EMSGSIZE (it fits %d bytes)", Want(), cap);
    }
    if (c_.short_recv == ShortRecv::kKeeps) return "";
    if (c_.short_recv == ShortRecv::kDrops && c_.reliable && c_.ordered) {
      Forget(1);  // the front did not fit: it is consumed
      return "";
    }
    for (size_t i = 0; i < n; ++i) {  // refused: may be gone
      if (q_[i].maybe || q_[i].size <= cap) continue;
      Count(q_[i], false);
      q_[i].maybe = true;
    }
    return "";
  }

  std::deque<Entry> q_;
  std::deque<uint64_t> gone_;  // recently received, to name duplicates
  uint64_t bytes_ = 0;
  uint64_t sure_count_ = 0, sure_bytes_ = 0;  // entries that cannot be gone
};

class CounterModel : public CapsModel {
 public:
  using CapsModel::CapsModel;

  std::string OnSendWithin(uint64_t msg, uint64_t size, int rc, size_t sent) override {
    if (size < kCounterSize) {
      if (rc == -EINVAL) return "";
      return absl::StrFormat(
          "expected -EINVAL (a counter takes 8-byte values, not %d bytes), got %s", size,
          Got(rc, sent));
    }
    const uint64_t v = CounterAdd(msg);
    if (v == ~uint64_t{0}) {
      if (rc == -EINVAL) return "";
      return absl::StrFormat(
          "expected -EINVAL (0xffffffffffffffff is the one value a counter never takes), got %s",
          Got(rc, sent));
    }
    // Past its maximum, an add waits for a read to make room; nothing else
    // is refused (plugin.h states a counter's room exactly), and a 0 is
    // taken even by a full counter.
    const bool passes = v > kCounterMax - sum_;
    if (rc == -EAGAIN) {
      if (passes) return "";
      return absl::StrFormat(
          "expected the value %d to be added (the counter holds %d%s), got -EAGAIN", v, sum_,
          v == 0
              ? ", and a send of 0 succeeds at once and leaves it as it is"
              : absl::StrFormat(", %d below its maximum 0xfffffffffffffffe", kCounterMax - sum_));
    }
    if (rc == 0 && passes) {
      return absl::StrFormat(
          "expected -EAGAIN (the counter holds %d, and adding %d would take it past its maximum "
          "0xfffffffffffffffe), got the value taken",
          sum_, v);
    }
    if (rc != 0 || sent != kCounterSize) {
      return absl::StrFormat("expected the value %d to be added, got %s", v, Got(rc, sent));
    }
    sum_ += v;
    ++adds_;
    return "";
  }

  bool MustDeliver(uint64_t cap) const override { return sum_ > 0 && cap >= kCounterSize; }

  std::string OnRecv(uint64_t cap, bool waited, int rc, std::span<const std::byte> got) override {
    if (cap < kCounterSize) {
      if (rc == -EINVAL) return "";
      return absl::StrFormat("expected -EINVAL (a receive buffer of %d bytes), got %s", cap,
                             Got(rc, got.size()));
    }
    if (sum_ == 0) return CheckEmpty(c_.peer_close, closed_, waited, rc, got.size());
    auto want = [&] { return absl::StrFormat("expected the sum %d of %d values", sum_, adds_); };
    if (rc != 0) return absl::StrFormat("%s, got %s", want(), Errno(rc));
    if (got.size() != kCounterSize) return absl::StrFormat("%s, got %d bytes", want(), got.size());
    uint64_t v;
    std::memcpy(&v, got.data(), sizeof v);
    if (v != sum_) return absl::StrFormat("%s, got %d", want(), v);
    sum_ = 0;
    adds_ = 0;
    return "";
  }

  bool Empty() const override { return sum_ == 0; }
  std::string Holds() const override { return absl::StrFormat("the sum %d", sum_); }

 private:
  uint64_t sum_ = 0, adds_ = 0;
};

}  // namespace

std::unique_ptr<ReferenceModel> MakeModel(const Capabilities& c) {
  switch (c.model) {
    case ModelClass::kByteStream:
      return std::make_unique<StreamModel>(c);
    case ModelClass::kFifoQueue:
    case ModelClass::kPriorityQueue:
    case ModelClass::kTypedQueue:
    case ModelClass::kUnordered:
      return std::make_unique<QueueModel>(c);
    case ModelClass::kCounter:
      return std::make_unique<CounterModel>(c);
  }
  return nullptr;
}

uint64_t MostTaken(const Capabilities& c, const ReferenceModel& model, uint64_t size) {
  if (c.max_message > 0 && size > c.max_message) return 0;
  if (!c.reliable || c.capacity == 0) return size;
  const uint64_t held = model.SureBytes();
  return std::min(size, c.capacity - std::min(c.capacity, held));
}

uint64_t CounterAdd(uint64_t msg) {
  if (msg % 4 == 3) return 0;
  if (msg % 16 == 2) return ~uint64_t{0};
  if (msg % 8 == 1) return kCounterMax - msg;
  if (msg % 3 == 1) return ((msg + 1) << 32) | (msg + 1);
  return msg + 1;
}

std::span<const std::byte> ModelPayloadView(const Capabilities& c, uint64_t msg, uint64_t size,
                                            uint64_t filled) {
  thread_local uint64_t counter;
  if (c.model == ModelClass::kCounter && size == kCounterSize) {
    counter = CounterAdd(msg);
    return std::as_bytes(std::span(&counter, 1));
  }
  size = std::min(size, kMaxPayload);
  // The first messages' patterns are kept (per thread, grown as longer ones
  // are asked for): making a payload anew for every send was most of a fuzz
  // input's time, and a fresh buffer per send a page fault per page.
  thread_local std::vector<std::vector<std::byte>> cache(kCachedMessages);
  thread_local std::vector<std::byte> scratch;
  const bool cached = msg < kCachedMessages && size <= kCachedBytes;
  std::vector<std::byte>& out = cached ? cache[msg] : scratch;
  const bool grown = out.size() < size;
  if (grown) out.resize(std::max<uint64_t>(std::bit_ceil(size), 64));
  if (!cached) {
    // Past what a send may take, the bytes cannot matter: not computed.
    FillPayload(kWriter, msg, 0, std::span(out.data(), std::min(size, filled)));
  } else if (grown) {
    FillPayload(kWriter, msg, 0, out);  // the whole pattern, kept
  }
  return std::span<const std::byte>(out.data(), size);
}

std::vector<std::byte> ModelPayload(const Capabilities& c, uint64_t msg, uint64_t size) {
  const std::span<const std::byte> v = ModelPayloadView(c, msg, size);
  return std::vector<std::byte>(v.begin(), v.end());
}

}  // namespace ipcspec::props
