#include "ipcspec/transport.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ipcspec/util.h"
#include "ipcspec/watch.h"

namespace ipcspec {

ipcspec_caps Capabilities::ToAbi() const {
  ipcspec_caps c{};
  c.framing = framing == Framing::kStream ? IPCSPEC_STREAM : IPCSPEC_MESSAGE;
  c.direction = direction == Direction::kOneWay ? IPCSPEC_ONE_WAY : IPCSPEC_DUPLEX;
  c.flags = (reliable ? IPCSPEC_RELIABLE : 0u) | (ordered ? IPCSPEC_ORDERED : 0u) |
            (multi_writer ? IPCSPEC_MULTI_WRITER : 0u) | (peer_close ? IPCSPEC_PEER_CLOSE : 0u) |
            (overhead == Overhead::kNone ? IPCSPEC_EXACT_CAPACITY : 0u) |
            (short_recv == ShortRecv::kKeeps ? IPCSPEC_SHORT_RECV_KEEPS : 0u) |
            (short_recv == ShortRecv::kDrops ? IPCSPEC_SHORT_RECV_DROPS : 0u) |
            (peer_close && !end_on_death ? IPCSPEC_CLOSE_ONLY : 0u) |
            (realtime ? 0u : IPCSPEC_POLLED) |
            (one_end_per_process ? IPCSPEC_ONE_END_PER_PROCESS : 0u) |
            (model == ModelClass::kCounter ? IPCSPEC_COUNTER : 0u);
  c.max_message = max_message;
  c.capacity = capacity;
  c.atomic_write = atomic_write;
  c.max_queued = max_queued;
  return c;
}

Capabilities Capabilities::FromAbi(const ipcspec_caps& c) {
  Capabilities caps;
  caps.framing = c.framing == IPCSPEC_STREAM ? Framing::kStream : Framing::kMessage;
  caps.direction = c.direction == IPCSPEC_ONE_WAY ? Direction::kOneWay : Direction::kDuplex;
  caps.reliable = (c.flags & IPCSPEC_RELIABLE) != 0;
  // A byte stream is ordered by definition.
  caps.ordered = (c.flags & IPCSPEC_ORDERED) != 0 || caps.framing == Framing::kStream;
  caps.multi_writer = (c.flags & IPCSPEC_MULTI_WRITER) != 0;
  caps.peer_close = (c.flags & IPCSPEC_PEER_CLOSE) != 0;
  caps.end_on_death = (c.flags & IPCSPEC_CLOSE_ONLY) == 0;
  caps.named = false;
  caps.model = (c.flags & IPCSPEC_COUNTER)        ? ModelClass::kCounter
               : caps.framing == Framing::kStream ? ModelClass::kByteStream
               : caps.ordered                     ? ModelClass::kFifoQueue
                                                  : ModelClass::kUnordered;
  caps.max_message = c.max_message;
  caps.capacity = c.capacity;
  caps.atomic_write = c.atomic_write;
  caps.max_queued = c.max_queued;
  caps.overhead = (c.flags & IPCSPEC_EXACT_CAPACITY) ? Overhead::kNone : Overhead::kUnknown;
  caps.short_recv = (c.flags & IPCSPEC_SHORT_RECV_KEEPS)   ? ShortRecv::kKeeps
                    : (c.flags & IPCSPEC_SHORT_RECV_DROPS) ? ShortRecv::kDrops
                                                           : ShortRecv::kEither;
  caps.realtime = (c.flags & IPCSPEC_POLLED) == 0;
  caps.one_end_per_process = (c.flags & IPCSPEC_ONE_END_PER_PROCESS) != 0;
  return caps;
}

std::string Capabilities::Contradiction() const {
  std::vector<std::string> why;
  if (atomic_write > 0 && !multi_writer) {
    why.push_back("atomic_write is set but multi_writer is not");
  }
  if (atomic_write > 0 && max_message > 0 && atomic_write > max_message) {
    why.push_back(
        absl::StrCat("atomic_write (", atomic_write, ") exceeds max_message (", max_message, ")"));
  }
  const bool stream_model = model == ModelClass::kByteStream;
  if (stream_model != (framing == Framing::kStream)) {
    why.push_back(absl::StrFormat("framing %s does not fit the %s model",
                                  framing == Framing::kStream ? "stream" : "message",
                                  ModelClassName(model)));
  }
  if (ordered && model == ModelClass::kUnordered) {
    why.push_back("declared ordered but modelled as unordered");
  }
  if (framing == Framing::kStream && max_queued > 0) {
    why.push_back("max_queued counts messages, but the framing is a byte stream");
  }
  if (framing == Framing::kStream && short_recv != ShortRecv::kEither) {
    why.push_back("a short receive of a byte stream takes what fits: SHORT_RECV needs messages");
  }
  if (model == ModelClass::kCounter) {
    if (max_message != 8) {
      why.push_back(
          absl::StrCat("a counter takes 8-byte values, but max_message is ", max_message));
    }
    if (ordered && framing == Framing::kMessage)
      why.push_back("a counter sums: ORDERED does not apply");
    if (max_queued > 0) why.push_back("a counter sums: max_queued does not apply");
    if (!reliable) why.push_back("a counter needs RELIABLE: a lossy sum has no oracle");
    if (short_recv != ShortRecv::kEither) {
      why.push_back("a counter sums: SHORT_RECV does not apply (a short buffer gives -EINVAL)");
    }
  }
  if (!peer_close && !end_on_death) {
    why.push_back("CLOSE_ONLY qualifies PEER_CLOSE, which is not set");
  }
  return absl::StrJoin(why, "; ");
}

namespace {

// SendBufferPassedThrough objects alive on this thread.
thread_local int g_passed_through = 0;

constexpr size_t kErrLen = 512;

// The buffer a plugin's send() reads from, at least `size` bytes. Two take
// turns, so that a transport that reads a buffer at its next send (a copy
// put off while the channel was full) finds the poison left in it, not the
// next message. Each grows by doubling and never frees what it had: a
// transport that reads one later still must read poison, not freed memory.
std::byte* SendCopy(size_t size) {
  struct Copies {
    std::vector<std::unique_ptr<std::byte[]>> kept;
    size_t have = 0;
  };
  thread_local Copies copies[2];
  thread_local unsigned turn = 0;
  Copies& c = copies[turn++ & 1u];
  if (size > c.have || c.kept.empty()) {
    c.have = std::max<size_t>(std::bit_ceil(std::max<size_t>(size, 1)), 4096);
    c.kept.push_back(std::make_unique_for_overwrite<std::byte[]>(c.have));
  }
  return c.kept.back().get();
}

class AbiEnd : public End {
 public:
  AbiEnd(const ipcspec_transport* t, void* end) : t_(t), end_(end) {}
  ~AbiEnd() override {
    WatchedCall call = WatchedCall::Quick("close");
    t_->close(end_);
  }
  // The plugin sends from a copy of the harness's own. The buffer is const
  // to send(): one that changes (an encoding done in place) is reported as
  // a crash that says so, and once send() has returned the copy is
  // overwritten with kSentBufferPoison.
  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    *sent = 0;
    if (SendBufferPassedThrough::Now()) {
      const int rc = t_->send(end_, buf.data(), buf.size(), sent, timeout_ms);
      if (rc > 0) BadReturnAbort("send", rc, "0 or a negative errno");
      return rc;
    }
    std::byte* const copy = SendCopy(buf.size());
    if (!buf.empty()) std::memcpy(copy, buf.data(), buf.size());
    const int rc = t_->send(end_, copy, buf.size(), sent, timeout_ms);
    if (rc > 0) BadReturnAbort("send", rc, "0 or a negative errno");
    if (!buf.empty()) {
      if (std::memcmp(copy, buf.data(), buf.size()) != 0) WroteInputAbort(buf, copy, rc);
      std::memset(copy, static_cast<int>(kSentBufferPoison), buf.size());
    }
    return rc;
  }
  // The plugin receives into a buffer of the harness's own with guard
  // bytes after it, so that a write past `cap` (a message copied whole into
  // a smaller buffer, say) is reported where it happens instead of
  // corrupting the caller's memory unseen: plugins are not built with
  // AddressSanitizer.
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    *received = 0;
    std::byte* const bounce = ThreadBuffer<AbiEnd>(buf.size() + kGuard);
    std::memset(bounce + buf.size(), kGuardByte, kGuard);
    const int rc = t_->recv(end_, bounce, buf.size(), received, timeout_ms);
    if (const size_t at = FirstChanged(bounce + buf.size()); at < kGuard) {
      OverrunAbort(buf.size(), at, rc);
    }
    if (rc > 0 && rc != kEnd) BadReturnAbort("recv", rc, "0, IPCSPEC_END (1) or a negative errno");
    if (rc == kEnd && *received > 0) {
      ContractAbort(absl::StrFormat(
          "recv() returned IPCSPEC_END with *received = %d: the end of the stream carries no "
          "data (a byte count returned as read(2) returns it?)",
          *received));
    }
    if (rc == 0 && *received > buf.size()) {
      ContractAbort(absl::StrFormat(
          "recv() reported %d bytes received into a %d-byte buffer (it must count what it "
          "wrote into the buffer, not the message's length)",
          *received, buf.size()));
    }
    if (const size_t n = std::min(*received, buf.size()); n > 0) std::memcpy(buf.data(), bounce, n);
    return rc;
  }

 private:
  static constexpr size_t kGuard = 64;
  static constexpr unsigned char kGuardByte = 0xa5;

  // The first guard byte that is not kGuardByte any more, or kGuard. Not
  // instrumented: in a fuzzing build each of the 64 compares of every
  // receive would be a coverage callback.
  IPCSPEC_NOT_INSTRUMENTED static size_t FirstChanged(const std::byte* guard) {
    for (size_t i = 0; i < kGuard; ++i) {
      if (guard[i] != std::byte{kGuardByte}) return i;
    }
    return kGuard;
  }
  // A breach of the contract that no property could name: said on stderr,
  // which the report carries, before the process aborts (outcome crashed).
  [[noreturn]] void ContractAbort(const std::string& what) const {
    const std::string line = absl::StrFormat("ipcspec: plugin transport %s: %s\n", t_->name, what);
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
    std::abort();
  }
  [[noreturn]] void OverrunAbort(size_t cap, size_t at, int rc) const {
    ContractAbort(absl::StrFormat(
        "recv() into a %d-byte buffer wrote past its end (byte %d after it changed; recv "
        "returned %d)",
        cap, at, rc));
  }
  // A positive return that is not IPCSPEC_END: a byte count returned as
  // read(2) returns it, most likely, which the callers would otherwise take
  // for an error code (or, for 1, for the end of the stream).
  [[noreturn]] void BadReturnAbort(const char* call, int rc, const char* allowed) const {
    ContractAbort(absl::StrFormat(
        "%s() returned %d, which is not %s (a byte count goes in *%s, not in the return)", call, rc,
        allowed, std::string_view(call) == "send" ? "sent" : "received"));
  }

  [[noreturn]] void WroteInputAbort(std::span<const std::byte> want, const std::byte* got,
                                    int rc) const {
    size_t at = 0;
    while (at < want.size() && want[at] == got[at]) ++at;
    ContractAbort(absl::StrFormat(
        "send() wrote into the %d-byte buffer it was given to send (byte %d changed from 0x%02x "
        "to 0x%02x; send returned %d): the buffer is const, the caller's to reuse",
        want.size(), at, static_cast<unsigned>(want[at]), static_cast<unsigned>(got[at]), rc));
  }

  const ipcspec_transport* t_;
  void* end_;
};

class AbiChannel : public Channel {
 public:
  AbiChannel(const ipcspec_transport* t, void* ch) : t_(t), ch_(ch) {}
  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    char err[kErrLen] = "";
    void* end = nullptr;
    {
      WatchedCall call = WatchedCall::Quick("open");
      end = t_->open(ch_, static_cast<int>(role), err, sizeof err);
    }
    if (end == nullptr) {
      return absl::UnavailableError(
          absl::StrFormat("%s: open: %s", t_->name, err[0] ? err : "failed"));
    }
    return std::make_unique<AbiEnd>(t_, end);
  }
  void Detach() override {
    WatchedCall call = WatchedCall::Quick("detach");
    t_->detach(ch_);
  }
  absl::Status Destroy() override {
    WatchedCall call = WatchedCall::Quick("destroy");
    t_->destroy(ch_);
    return absl::OkStatus();
  }

 private:
  const ipcspec_transport* t_;
  void* ch_;
};

class AbiTransport : public Transport {
 public:
  AbiTransport(const ipcspec_transport* t, std::string description)
      : t_(t), caps_(Capabilities::FromAbi(t->caps)), description_(std::move(description)) {}
  std::string_view name() const override { return t_->name; }
  std::string_view description() const override { return description_; }
  const Capabilities& caps() const override { return caps_; }
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& scratch) const override {
    char err[kErrLen] = "";
    void* ch = nullptr;
    {
      WatchedCall call = WatchedCall::Quick("create");
      ch = t_->create(scratch.c_str(), err, sizeof err);
    }
    if (ch == nullptr) {
      return absl::UnavailableError(
          absl::StrFormat("%s: create: %s", t_->name, err[0] ? err : "failed"));
    }
    return std::make_unique<AbiChannel>(t_, ch);
  }

 private:
  const ipcspec_transport* t_;
  Capabilities caps_;
  std::string description_;
};

}  // namespace

std::unique_ptr<Transport> TransportFromAbi(const ipcspec_transport* t, std::string description) {
  return std::make_unique<AbiTransport>(t, std::move(description));
}

std::string_view ModelClassName(ModelClass m) {
  // In the enum's order.
  static constexpr std::string_view kNames[] = {"byte-stream", "fifo-queue", "priority-queue",
                                                "typed-queue", "counter",    "unordered"};
  static_assert(std::size(kNames) == static_cast<size_t>(ModelClass::kUnordered) + 1);
  const auto i = static_cast<size_t>(m);
  return i < std::size(kNames) ? kNames[i] : "?";
}

SendBufferPassedThrough::SendBufferPassedThrough() { ++g_passed_through; }
SendBufferPassedThrough::~SendBufferPassedThrough() { --g_passed_through; }
bool SendBufferPassedThrough::Now() { return g_passed_through > 0; }

}  // namespace ipcspec
