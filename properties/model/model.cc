#include "properties/model/model.h"

#include <algorithm>
#include <cstring>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

constexpr size_t kCounterSize = sizeof(uint64_t);

// Payload bytes: message `msg` is a slice of one fixed pseudo-random tape,
// starting at a place that depends on msg, so a shifted, torn, duplicated or
// dropped piece never looks right, and making or checking a payload is a
// memcpy / memcmp (the per-byte pattern of common.h cost the fuzz targets
// most of their time).
constexpr uint64_t kTapeStarts = uint64_t{1} << 20;
constexpr uint64_t kMaxPayload = uint64_t{2} << 20;  // over any max_message used
const std::byte* Tape() {
  static const std::byte* tape = [] {
    auto* t = new std::byte[kTapeStarts + kMaxPayload];
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (uint64_t i = 0; i < kTapeStarts + kMaxPayload; i += 8) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      std::memcpy(t + i, &x, 8);
    }
    return t;
  }();
  return tape;
}
uint64_t TapeStart(uint64_t msg) {
  uint64_t h = (msg + 1) * 0x9e3779b97f4a7c15ULL;
  h ^= h >> 29;
  return h % kTapeStarts;
}
// Bytes [offset, offset + n) of message msg.
const std::byte* PayloadAt(uint64_t msg, uint64_t offset) {
  return Tape() + TapeStart(msg) + offset;
}
bool PayloadIs(std::span<const std::byte> got, uint64_t msg, uint64_t size) {
  return got.size() == size && (size == 0 || std::memcmp(got.data(), PayloadAt(msg, 0), size) == 0);
}

std::string Got(int rc, size_t n) { return rc == 0 ? absl::StrFormat("%d bytes", n) : Errno(rc); }

// What an empty channel gives: END once the writer closed (peer_close),
// otherwise -EAGAIN, or -ETIMEDOUT after a bounded wait.
int EmptyCode(bool peer_close, bool closed, bool waited) {
  if (peer_close && closed) return kEnd;
  return waited ? -ETIMEDOUT : -EAGAIN;
}

std::string CheckEmpty(bool peer_close, bool closed, bool waited, int rc, size_t n,
                       bool small_buffer = false) {
  const int want = EmptyCode(peer_close, closed, waited);
  if (rc == want) return "";
  // A queue may refuse a buffer under max_message before looking (mq_receive).
  if (small_buffer && rc == -EMSGSIZE) return "";
  return absl::StrFormat("expected %s (the channel is empty%s), got %s", Errno(want),
                         closed ? " and the writer closed" : "", Got(rc, n));
}

// Whether a send may report -EAGAIN: only when the model holds something,
// and, when the capacity is declared, only near it (the exact limit depends
// on the kernel's accounting, so half the capacity is the bar).
bool MayRefuse(const Capabilities& c, uint64_t buffered, uint64_t queued, uint64_t size) {
  // A message larger than the whole capacity cannot go in without a reader
  // taking part of it meanwhile (a shared-memory ring streams it).
  if (c.capacity > 0 && size > c.capacity) return true;
  if (buffered == 0 && queued == 0) return false;
  if (c.capacity == 0 && c.max_queued == 0) return true;
  if (c.capacity > 0 && (2 * buffered >= c.capacity || buffered + size > c.capacity)) return true;
  return c.max_queued > 0 && queued >= c.max_queued;
}

// A send over max_message must be refused with -EMSGSIZE.
std::string CheckOversize(const Capabilities& c, uint64_t size, int rc, size_t sent) {
  if (rc == -EMSGSIZE) return "";
  return absl::StrFormat("expected -EMSGSIZE (%d bytes is over max_message %d), got %s", size,
                         c.max_message, Got(rc, sent));
}

class StreamModel : public ReferenceModel {
 public:
  explicit StreamModel(const Capabilities& c) : c_(c) {}

  std::string OnSend(uint64_t msg, uint64_t size, int rc, size_t sent) override {
    if (c_.max_message > 0 && size > c_.max_message) {
      return CheckOversize(c_, size, rc, sent);
    }
    const uint64_t buffered = write_pos_ - read_pos_;
    if (rc == -EAGAIN) {
      if (size > 0 && MayRefuse(c_, buffered, 0, size)) return "";
      return absl::StrFormat("expected the send to be taken (%d bytes buffered%s), got -EAGAIN",
                             buffered,
                             c_.capacity ? absl::StrFormat(" of capacity %d", c_.capacity) : "");
    }
    if (rc != 0) return absl::StrFormat("expected the send to be taken, got %s", Errno(rc));
    if (sent > size) return absl::StrFormat("%d bytes reported sent of %d", sent, size);
    if (size > 0 && sent == 0) return "a stream send of more than 0 bytes took 0 bytes";
    if (sent < size && c_.capacity > 0 && 2 * (buffered + sent) < c_.capacity) {
      return absl::StrFormat("only %d of %d bytes taken with %d bytes buffered of capacity %d",
                             sent, size, buffered, c_.capacity);
    }
    if (sent > 0) segments_.push_back({msg, write_pos_, sent});
    write_pos_ += sent;
    return "";
  }

  bool MustDeliver(uint64_t) const override {
    return read_pos_ < write_pos_ || (closed_ && c_.peer_close);
  }

  std::string OnRecv(uint64_t cap, bool waited, int rc, std::span<const std::byte> got) override {
    const uint64_t buffered = write_pos_ - read_pos_;
    if (buffered == 0) return CheckEmpty(c_.peer_close, closed_, waited, rc, got.size());
    const std::string want =
        absl::StrFormat("expected 1 to %d bytes (%s)", std::min<uint64_t>(cap, buffered), Where());
    if (rc != 0) return absl::StrFormat("%s, got %s", want, Errno(rc));
    if (got.empty() || got.size() > std::min<uint64_t>(cap, buffered)) {
      return absl::StrFormat("%s, got %d bytes", want, got.size());
    }
    // Compare segment by segment.
    size_t done = 0;
    for (const Segment& seg : segments_) {
      if (done == got.size()) break;
      const uint64_t pos = read_pos_ + done;
      if (pos >= seg.start + seg.len) continue;
      const uint64_t off = pos - seg.start;
      const size_t n = std::min<uint64_t>(seg.len - off, got.size() - done);
      if (std::memcmp(got.data() + done, PayloadAt(seg.msg, off), n) != 0) {
        size_t k = 0;
        while (k < n && got[done + k] == PayloadAt(seg.msg, off)[k]) ++k;
        read_pos_ += done + k;
        std::string where = Where();
        read_pos_ -= done + k;
        return absl::StrFormat("%s, got %d bytes that differ from byte %d on (%s)", want,
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

  void OnCloseWriter() override { closed_ = true; }
  bool Empty() const override { return read_pos_ == write_pos_; }
  std::string Holds() const override { return absl::StrFormat("%d bytes", write_pos_ - read_pos_); }

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

  Capabilities c_;
  std::deque<Segment> segments_;
  uint64_t read_pos_ = 0, write_pos_ = 0;
  bool closed_ = false;
};

class QueueModel : public ReferenceModel {
 public:
  explicit QueueModel(const Capabilities& c) : c_(c) {}

  std::string OnSend(uint64_t msg, uint64_t size, int rc, size_t sent) override {
    if (c_.max_message > 0 && size > c_.max_message) {
      return CheckOversize(c_, size, rc, sent);
    }
    if (rc == -EAGAIN) {
      if (MayRefuse(c_, bytes_, queue_.size(), size)) return "";
      return absl::StrFormat("expected the message to be queued (%s queued), got -EAGAIN", Holds());
    }
    if (rc != 0) return absl::StrFormat("expected the message to be queued, got %s", Errno(rc));
    if (sent != size)
      return absl::StrFormat("%d of %d bytes of a message reported sent", sent, size);
    queue_.push_back({1, msg, size});
    bytes_ += size;
    return "";
  }

  bool MustDeliver(uint64_t cap) const override {
    if (queue_.empty()) return closed_ && c_.peer_close;
    return cap >= queue_.front().size;
  }

  std::string OnRecv(uint64_t cap, bool waited, int rc, std::span<const std::byte> got) override {
    if (queue_.empty()) {
      return CheckEmpty(c_.peer_close, closed_, waited, rc, got.size(), cap < c_.max_message);
    }
    const Sent& front = queue_.front();
    if (cap < front.size || (rc == -EMSGSIZE && cap < c_.max_message)) {
      // Too small for the oldest message (or, for a queue that insists on a
      // buffer of max_message, smaller than that): refused, message stays.
      if (rc == -EMSGSIZE) return "";
      return absl::StrFormat("expected -EMSGSIZE (%s does not fit %d bytes), got %s", Name(front),
                             cap, Got(rc, got.size()));
    }
    const std::string want = absl::StrFormat("expected %d bytes (%s)", front.size,
                                             absl::StrFormat("message %d", front.msg));
    if (rc != 0) return absl::StrFormat("%s, got %s", want, Errno(rc));
    if (!PayloadIs(got, front.msg, front.size)) {
      std::vector<Sent> others(queue_.begin(), queue_.end());
      for (uint64_t m : gone_) others.push_back({1, m, got.size()});
      for (const Sent& o : others) {
        if (PayloadIs(got, o.msg, o.size)) return absl::StrFormat("%s, got %s", want, Name(o));
      }
      return absl::StrFormat("%s, got %d bytes that are no message sent", want, got.size());
    }
    bytes_ -= front.size;
    gone_.push_back(front.msg);
    if (gone_.size() > 16) gone_.pop_front();
    queue_.pop_front();
    return "";
  }

  void OnCloseWriter() override { closed_ = true; }
  bool Empty() const override { return queue_.empty(); }
  std::string Holds() const override {
    if (queue_.empty()) return "no message";
    return absl::StrFormat("%d message%s, message %d first", queue_.size(),
                           queue_.size() == 1 ? "" : "s", queue_.front().msg);
  }

 private:
  Capabilities c_;
  std::deque<Sent> queue_;
  std::deque<uint64_t> gone_;  // recently received, to name duplicates
  uint64_t bytes_ = 0;
  bool closed_ = false;
};

class CounterModel : public ReferenceModel {
 public:
  explicit CounterModel(const Capabilities& c) : c_(c) {}

  std::string OnSend(uint64_t msg, uint64_t size, int rc, size_t sent) override {
    if (c_.max_message > 0 && size > c_.max_message) {
      return CheckOversize(c_, size, rc, sent);
    }
    if (size < kCounterSize) {
      if (rc == -EINVAL) return "";
      return absl::StrFormat(
          "expected -EINVAL (a counter takes 8-byte values, not %d bytes), got %s", size,
          Got(rc, sent));
    }
    if (rc == -EAGAIN) {
      if (MayRefuse(c_, sum_, adds_, size)) return "";
      return absl::StrFormat("expected the value to be added (the counter holds %d), got -EAGAIN",
                             sum_);
    }
    if (rc != 0 || sent != kCounterSize) {
      return absl::StrFormat("expected the value %d to be added, got %s", msg + 1, Got(rc, sent));
    }
    sum_ += msg + 1;
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
    const std::string want = absl::StrFormat("expected the sum %d of %d values", sum_, adds_);
    if (rc != 0) return absl::StrFormat("%s, got %s", want, Errno(rc));
    if (got.size() != kCounterSize) return absl::StrFormat("%s, got %d bytes", want, got.size());
    uint64_t v;
    std::memcpy(&v, got.data(), sizeof v);
    if (v != sum_) return absl::StrFormat("%s, got %d", want, v);
    sum_ = 0;
    adds_ = 0;
    return "";
  }

  void OnCloseWriter() override { closed_ = true; }
  bool Empty() const override { return sum_ == 0; }
  std::string Holds() const override { return absl::StrFormat("the sum %d", sum_); }

 private:
  Capabilities c_;
  uint64_t sum_ = 0, adds_ = 0;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<ReferenceModel> MakeModel(const Capabilities& c) {
  switch (c.model) {
    case ModelClass::kByteStream:
      return std::make_unique<StreamModel>(c);
    case ModelClass::kFifoQueue:
    case ModelClass::kPriorityQueue:
    case ModelClass::kTypedQueue:
      return std::make_unique<QueueModel>(c);
    case ModelClass::kCounter:
      return std::make_unique<CounterModel>(c);
    case ModelClass::kUnordered:
      return nullptr;
  }
  return nullptr;
}

std::vector<std::byte> ModelPayload(const Capabilities& c, uint64_t msg, uint64_t size) {
  if (c.model == ModelClass::kCounter && size == kCounterSize) {
    std::vector<std::byte> out(kCounterSize);
    const uint64_t v = msg + 1;
    std::memcpy(out.data(), &v, sizeof v);
    return out;
  }
  size = std::min(size, kMaxPayload);
  return std::vector<std::byte>(PayloadAt(msg, 0), PayloadAt(msg, 0) + size);
}

Verdict ExecuteSteps(const Transport& t, const std::vector<Step>& steps,
                     const std::string& scratch_dir, const ExecOptions& options) {
  const Capabilities& c = t.caps();
  std::unique_ptr<ReferenceModel> model = MakeModel(c);
  if (model == nullptr) {
    return Verdict::Unsupported(
        absl::StrFormat("no reference model for model=%s", ModelClassName(c.model)));
  }
  absl::StatusOr<std::unique_ptr<Channel>> ch = t.Create(scratch_dir);
  if (!ch.ok()) return Verdict::Broken(absl::StrCat("create: ", ch.status().message()));
  // Reader first (a FIFO's non-blocking writer needs one), then the writer,
  // then drop the channel's own hold so that closing the writer is seen.
  Verdict v;
  std::unique_ptr<End> reader, writer;
  absl::StatusOr<std::unique_ptr<End>> r = (*ch)->Open(Role::kReader);
  if (!r.ok()) {
    v = Verdict::Broken(absl::StrCat("open(reader): ", r.status().message()));
  } else {
    reader = std::move(*r);
    absl::StatusOr<std::unique_ptr<End>> w = (*ch)->Open(Role::kWriter);
    if (!w.ok()) {
      v = Verdict::Broken(absl::StrCat("open(writer): ", w.status().message()));
    } else {
      writer = std::move(*w);
    }
  }
  (*ch)->Detach();

  const uint64_t max_cap = RecvBufferSize(c);
  // Reused from call to call: zeroing a fresh megabyte per run dominated the
  // fuzz targets' cost. Only the received bytes are ever looked at.
  static thread_local std::vector<std::byte> buf;
  bool real_timeout_left = options.one_real_timeout;
  // One receive into `cap` bytes: without blocking, then (when the model
  // says something must come) with a short bounded wait.
  auto receive = [&](uint64_t cap, int wait_ms) -> std::string {
    if (cap == 0) cap = max_cap;
    cap = std::min<uint64_t>(cap, uint64_t{1} << 24);
    if (buf.size() < cap) buf.resize(cap);
    size_t n = 0;
    bool waited = wait_ms > 0;
    int call_ms = wait_ms;
    if (waited && options.virtual_time && !model->MustDeliver(cap)) {
      // A predicted timeout: virtual time lets the wait pass at once.
      call_ms = real_timeout_left ? std::min(wait_ms, options.real_timeout_ms) : 0;
      real_timeout_left = false;
    }
    int rc = reader->Recv(std::span(buf.data(), cap), &n, call_ms);
    if (waited && call_ms == 0 && rc == -EAGAIN) rc = -ETIMEDOUT;
    const int first = rc;
    bool retried = false;
    if ((rc == -EAGAIN || rc == -ETIMEDOUT) && wait_ms < options.deliver_wait_ms &&
        model->MustDeliver(cap)) {
      // Asynchronous transports (TCP loopback) may take a moment.
      n = 0;
      rc = reader->Recv(std::span(buf.data(), cap), &n, options.deliver_wait_ms);
      waited = retried = true;
    }
    if (rc != 0) n = 0;
    std::string err =
        model->OnRecv(cap, waited, rc, std::span(buf.data(), std::min<size_t>(n, cap)));
    if (!err.empty() && retried) {
      absl::StrAppendFormat(&err, " after waiting up to %d ms (at once: %s)",
                            options.deliver_wait_ms, Errno(first));
    }
    return err;
  };

  for (size_t i = 0; i < steps.size() && v.ok(); ++i) {
    const Step& st = steps[i];
    std::string err;
    switch (st.op) {
      case Op::kSend:
      case Op::kTrySend: {
        if (writer == nullptr) break;
        uint64_t value = st.arg + 1;
        const std::span<const std::byte> p =
            c.model == ModelClass::kCounter && st.size == kCounterSize
                ? std::span<const std::byte>(reinterpret_cast<const std::byte*>(&value),
                                             kCounterSize)
                : std::span<const std::byte>(PayloadAt(st.arg, 0), std::min(st.size, kMaxPayload));
        size_t sent = 0;
        const int rc = writer->Send(p, &sent, 0);
        err = model->OnSend(st.arg, st.size, rc, rc == 0 ? sent : 0);
        break;
      }
      case Op::kRecv:
      case Op::kTryRecv:
        err = receive(st.size, 0);
        break;
      case Op::kWait:
        err = receive(0, static_cast<int>(std::clamp<uint64_t>(st.size, 1, options.max_wait_ms)));
        break;
      case Op::kClose:
        if (st.actor == 1 && writer != nullptr) {
          writer.reset();
          model->OnCloseWriter();
        }
        break;
      default:
        break;
    }
    if (!err.empty()) {
      v = Verdict::Fail(absl::StrFormat("step %d: %s: %s", i + 1, DescribeStep(st), err));
    }
  }
  if (v.ok() && reader != nullptr && options.final_drain) {
    // Whatever the model holds must still come, and then nothing more.
    for (int guard = 0; v.ok() && guard < 100000; ++guard) {
      const bool last = model->Empty();
      if (std::string err = receive(0, 0); !err.empty()) {
        v =
            Verdict::Fail(absl::StrFormat("after step %d, draining (the model holds %s): reader "
                                          "receives without blocking: %s",
                                          steps.size(), model->Holds(), err));
      }
      if (last) break;
    }
  }
  writer.reset();
  reader.reset();
  if (absl::Status s = (*ch)->Destroy(); !s.ok() && v.ok()) {
    v = Verdict::Fail(absl::StrCat("destroy: ", s.message()));
  }
  return v;
}

}  // namespace ipcspec::props
