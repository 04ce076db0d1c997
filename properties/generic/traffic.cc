#include "properties/generic/traffic.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace ipcspec::props {
namespace {

// End markers a writer sends before it concludes that the transport loses
// them all (which a lossy transport may).
constexpr int kMaxMarkers = 64;

std::vector<uint32_t> DefaultIds(std::vector<uint32_t> ids, size_t n) {
  for (size_t i = ids.size(); i < n; ++i) ids.push_back(static_cast<uint32_t>(i + 1));
  return ids;
}

}  // namespace

Traffic::Traffic(const Capabilities& c, const CaseEnv& env,
                 std::vector<std::vector<Sent>> per_writer, std::vector<uint32_t> ids,
                 std::optional<bool> markers)
    : c_(c),
      waits_(Waits::For(env)),
      deadline_(Deadline::After(env.deadline - absl::Now())),
      per_(std::move(per_writer)),
      ids_(DefaultIds(std::move(ids), per_.size())),
      markers_(markers.value_or(!c.reliable && c.framing == Framing::kMessage)),
      expect_(c, per_, markers_, ids_),
      flags_(kSentByAll + 1) {}

std::string Traffic::Write(End& end, size_t i, const std::vector<bool>& try_first) {
  std::string err = SendData(end, i, try_first);
  if (err.empty() && markers_) err = SendMarkers(end, i);
  Finished(i);
  return err;
}

std::string Traffic::SendData(End& end, size_t i, const std::vector<bool>& try_first) {
  if (counter()) return AddAll(end, per_[i], waits_.deliver_ms);
  for (size_t k = 0; k < per_[i].size(); ++k) {
    std::string e = SendOne(end, i, k, k < try_first.size() && try_first[k]);
    if (!e.empty()) return e;
  }
  return "";
}

std::string Traffic::SendOne(End& end, size_t i, size_t k, bool try_first) {
  if (k >= per_[i].size()) return "";
  if (counter()) return AddAll(end, {per_[i][k]}, waits_.deliver_ms);
  // A send that waited its whole deliver bound while other writers' sends
  // went through was not hung but outrun: the room the reader made went to
  // them, and no transport promises a writer its turn. It waits again.
  // One that waited while no other writer sent anything (the reader made
  // no room, or none that anyone was woken for) is the failure.
  std::atomic<uint64_t>& sent_by_all = flags_.Counter(kSentByAll);
  uint64_t others = sent_by_all.load(std::memory_order_relaxed);
  const auto outrun = [&] {
    const uint64_t now = sent_by_all.load(std::memory_order_relaxed);
    const bool moved = now != others;
    others = now;
    return moved && !deadline_.Passed();
  };
  std::string e =
      SendAll(end, per_[i][k], c_.framing, waits_.deliver_ms, try_first, nullptr, outrun);
  if (e.empty()) sent_by_all.fetch_add(1, std::memory_order_relaxed);
  return e;
}

std::string Traffic::SendMarkers(End& end, size_t i) {
  const Sent marker = MarkerOf(ids_[i], c_);
  const std::vector<std::byte> data = Payload(marker.writer, marker.msg, marker.size);
  // In bursts of 1, 2, 4, ... (the first send of each may wait, the rest
  // may not), with a quiet wait after each: a transport that loses most
  // messages costs a few waits, not one per marker.
  for (int sent = 0, burst = 1; sent < kMaxMarkers; burst *= 2) {
    for (int k = 0; k < burst && sent < kMaxMarkers; ++k, ++sent) {
      if (flags_.IsRaised(kComplete)) return "";
      size_t n = 0;
      const int rc = end.Send(data, &n, k == 0 ? waits_.deliver_ms : 0);
      if (rc != 0 && rc != -EAGAIN && rc != -ETIMEDOUT && !flags_.IsRaised(kComplete)) {
        return absl::StrFormat("sending writer %d's end marker: %s", ids_[i], Errno(rc));
      }
    }
    if (flags_.WaitFor(kComplete, Deadline::After(absl::Milliseconds(waits_.quiet_ms)))) return "";
  }
  flags_.Raise(kGaveUp + i);
  return "";
}

bool Traffic::AllGaveUpOrSeen() const {
  for (size_t i = 0; i < per_.size(); ++i) {
    if (!expect_.MarkerSeen(i) && !flags_.IsRaised(kGaveUp + i)) return false;
  }
  return true;
}

bool Traffic::AllFinished() const {
  for (size_t i = 0; i < per_.size(); ++i) {
    if (!flags_.IsRaised(kFinished + i)) return false;
  }
  return true;
}

bool Traffic::WaitForWriters() const {
  for (size_t i = 0; i < per_.size(); ++i) {
    if (!flags_.WaitFor(kFinished + i, deadline_)) return false;
  }
  return true;
}

namespace {
constexpr size_t kTinyReceives = 512;
constexpr uint64_t kPage = 4096;
}  // namespace

std::string Traffic::Receive(End& end, const std::vector<uint64_t>& chunks) {
  if (counter()) {
    std::vector<Sent> all;
    for (const std::vector<Sent>& w : per_) all.insert(all.end(), w.begin(), w.end());
    std::string e = SumAll(end, all, waits_.deliver_ms);
    if (e.empty()) flags_.Raise(kComplete);
    return e;
  }
  const bool stream = c_.framing == Framing::kStream;
  // Not zeroed: only the received bytes are looked at, and a megabyte
  // zeroed per receive cost more than the receive.
  std::unique_ptr<std::byte[]> storage;
  size_t allocated = 0;
  size_t chunk = 0;
  while (!expect_.Complete()) {
    uint64_t cap = RecvBufferSize(c_);
    if (stream) cap = chunks.empty() ? 65536 : chunks[chunk++ % chunks.size()];
    // The chunk pattern repeats for kTinyReceives receives; after that a
    // tiny chunk grows to a page. Every boundary a tiny read can split has
    // been crossed by then, and megabytes read a byte at a time only cost
    // time (a receive per byte).
    if (stream && chunk > kTinyReceives && (cap & ~kTryFirst) < kPage) {
      cap = (cap & kTryFirst) | kPage;
    }
    if (before_receive_) before_receive_(expect_.messages_received());
    const bool try_first = (cap & kTryFirst) != 0;
    const size_t want = std::max<uint64_t>(cap & ~kTryFirst, 1);
    if (want > allocated) {
      storage = std::make_unique_for_overwrite<std::byte[]>(want);
      allocated = want;
    }
    const std::span<std::byte> buf(storage.get(), want);
    // A lossy stream has no markers: once its writers are done, a quiet
    // receive says that nothing more comes.
    const bool writers_done = stream && !c_.reliable && AllFinished();
    const int timeout = writers_done ? waits_.quiet_ms : waits_.deliver_ms;
    size_t n = 0;
    int rc = try_first ? end.Recv(buf, &n, 0) : -EAGAIN;
    if (rc == -EAGAIN) rc = end.Recv(buf, &n, timeout);
    if (rc == 0) {
      if (n > buf.size()) return absl::StrFormat("recv reported %d bytes into %d", n, buf.size());
      const std::span<const std::byte> got(buf.data(), n);
      std::string e = stream ? expect_.OnBytes(got) : expect_.OnMessage(got);
      if (!e.empty()) return e;
      continue;
    }
    // A lossy transport ends here; with markers, once its writers are done
    // sending them, whether or not one got through (all may be lost).
    if (rc == kEnd && !c_.reliable && (!markers_ || AllFinished())) {
      ended_ = true;
      break;
    }
    if (rc == kEnd && !c_.reliable) {
      return absl::StrCat("end of stream while a writer was still sending (", expect_.Owed(),
                          " was still to come, or be lost)");
    }
    if (rc == kEnd) return absl::StrCat("end of stream where ", expect_.Owed(), " was expected");
    if (rc == -ETIMEDOUT || rc == -EAGAIN) {
      if (writers_done) break;
      if (markers_ && AllGaveUpOrSeen()) break;
      return absl::StrFormat("receiving %s: %s after %d ms", expect_.Owed(), Errno(rc), timeout);
    }
    return absl::StrFormat("receiving %s: %s", expect_.Owed(), Errno(rc));
  }
  expect_.MarkStreamDone();
  flags_.Raise(kComplete);
  return "";
}

std::string Traffic::NothingMore(End& end, bool writers_close, std::optional<int> end_timeout_ms) {
  const bool want_end = c_.peer_close && writers_close;
  const int end_ms = end_timeout_ms.value_or(waits_.deliver_ms);
  if (ended_) return "";
  // Not zeroed, as in Receive: only what arrives is looked at.
  const size_t size = DrainBufferSize(c_);
  const std::unique_ptr<std::byte[]> storage = std::make_unique_for_overwrite<std::byte[]>(size);
  const std::span<std::byte> buf(storage.get(), size);
  Backoff again(absl::Milliseconds(waits_.deliver_ms));
  for (int guard = 0; guard < 10000; ++guard) {
    size_t n = 0;
    const int rc = end.Recv(buf, &n, want_end ? end_ms : 0);
    if (rc == 0) {
      const std::span<const std::byte> got(buf.data(), n);
      // A lossy stream's Receive stops at a quiet wait, which cannot tell
      // late bytes (an end that buffers in user space) from none: what
      // comes later must still continue the prefix and fit in what was sent.
      if (c_.framing == Framing::kStream && !c_.reliable) {
        if (std::string e = expect_.OnBytes(got); !e.empty()) return e;
        continue;
      }
      if (c_.framing == Framing::kStream) return expect_.TooManyBytes();
      if (std::string e = expect_.OnMessage(got); !e.empty()) return e;
      continue;
    }
    if (rc == kEnd) {
      if (want_end || WaitForWriters()) return "";
      return "end of stream while a writer still held its end";
    }
    if (!want_end && rc == -EAGAIN) return "";
    // The property is about how late END may come: ask again later.
    if (want_end && end_ms == 0 && rc == -EAGAIN && again.Next()) continue;
    if (want_end) return NoEnd(end, buf, rc, end_ms, again);
    return absl::StrFormat("non-blocking receive on a drained channel: %s, not -EAGAIN", Errno(rc));
  }
  return "data keeps arriving after everything sent";
}

std::string Traffic::NoEnd(End& end, std::span<std::byte> buf, int rc, int end_ms,
                           const Backoff& asked) {
  if (end_ms != 0) {
    return absl::StrFormat(
        "no end of stream after every writer closed: a receive with timeout %s gave %s",
        SayCallTimeout(end_ms), Errno(rc));
  }
  std::string e = absl::StrFormat(
      "no end of stream after every writer closed: receives with timeout 0 gave %s, the last "
      "%s after the first (a call that can complete at once returns at once: END)",
      Errno(rc), asked.SayWaited());
  size_t n = 0;
  const int bounded = end.Recv(buf, &n, waits_.deliver_ms);
  if (bounded == kEnd) {
    absl::StrAppendFormat(&e,
                          "; a receive with timeout %d ms then gave END at once: the "
                          "non-blocking path does not look for the end",
                          waits_.deliver_ms);
  }
  return e;
}

std::string Traffic::Read(End& end, const std::vector<uint64_t>& chunks) {
  std::string e = Receive(end, chunks);
  if (e.empty()) e = NothingMore(end);
  if (e.empty() && !WaitForWriters()) e = "a writer never finished";
  return e;
}

rc::Gen<std::vector<Step>> MixedTraffic(const Capabilities& c, size_t most) {
  return rc::gen::exec([c, most] {
    const bool counter = c.model == ModelClass::kCounter;
    auto sizes = *rc::gen::resize(static_cast<int>(most),
                                  rc::gen::container<std::vector<uint64_t>>(
                                      counter ? rc::gen::just<uint64_t>(8) : EdgeSize(c)));
    std::vector<Step> steps;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const bool try_first = *rc::gen::arbitrary<bool>();
      steps.push_back({try_first ? Op::kTrySend : Op::kSend, 1, sizes[i], i});
    }
    if (c.framing == Framing::kStream) {
      auto chunks = *rc::gen::resize(
          6, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(ChunkSize())));
      for (uint64_t ch : chunks) {
        const bool try_first = *rc::gen::arbitrary<bool>();
        steps.push_back({try_first ? Op::kTryRecv : Op::kRecv, 0, ch, 0});
      }
    }
    return steps;
  });
}

MixedPlan MixedPlanOf(const Scenario& s) {
  MixedPlan plan{.sent = SendsOf(s, 1)};
  for (const Step& st : s.steps) {
    if (st.op == Op::kSend || st.op == Op::kTrySend) plan.try_send.push_back(st.op == Op::kTrySend);
    if (st.op == Op::kRecv) plan.chunks.push_back(st.size);
    if (st.op == Op::kTryRecv) plan.chunks.push_back(st.size | kTryFirst);
  }
  return plan;
}

uint64_t CounterValue(const Sent& s) {
  const uint64_t v = (s.msg + 1) * 1000 + s.size;
  return s.writer == 2 ? v << 32 : v;
}

Applicability SummableIfCounter(const Capabilities& c) {
  return Needs(c.model != ModelClass::kCounter || c.reliable,
               "model=counter without reliable (a lossy sum has no oracle)");
}

std::string AddAll(End& end, const std::vector<Sent>& sent, int timeout_ms) {
  for (const Sent& m : sent) {
    uint64_t v = CounterValue(m);
    size_t n = 0;
    const int rc = end.Send(std::as_bytes(std::span(&v, 1)), &n, timeout_ms);
    if (rc != 0) return absl::StrCat("adding ", v, ": ", Errno(rc));
  }
  return "";
}

std::string ReadSum(End& end, const std::vector<uint64_t>& added, int timeout_ms) {
  uint64_t want = 0, got = 0;
  size_t adds = 0;
  bool wrapped = false;
  for (uint64_t v : added) {
    wrapped |= __builtin_add_overflow(want, v, &want);
    adds += v != 0;
  }
  for (size_t reads = 0; got != want; ++reads) {
    // Each read takes the whole count, so at least one add: a counter read
    // more often than it was added to gives back part of the count at a time.
    if (reads == adds) {
      return absl::StrFormat(
          "%d %s of the counter took %d of the %d that %d %s put in: a read takes the whole "
          "count, so there are never more reads than adds",
          reads, reads == 1 ? "read" : "reads", got, want, adds, adds == 1 ? "add" : "adds");
    }
    uint64_t v = 0;
    size_t n = 0;
    const int rc = end.Recv(std::as_writable_bytes(std::span(&v, 1)), &n, timeout_ms);
    if (rc != 0) return absl::StrFormat("counter read at %d of %d: %s", got, want, Errno(rc));
    if (n != 8 || v == 0) return absl::StrFormat("counter read gave %d bytes, value %d", n, v);
    if (!wrapped && (__builtin_add_overflow(got, v, &got) || got > want)) {
      return absl::StrFormat("counter summed past the %d added: %d", want, got);
    }
    if (wrapped) got += v;
  }
  return "";
}

std::string SumAll(End& end, const std::vector<Sent>& sent, int timeout_ms) {
  std::vector<uint64_t> added;
  for (const Sent& m : sent) added.push_back(CounterValue(m));
  return ReadSum(end, added, timeout_ms);
}

}  // namespace ipcspec::props
