// G-FULL: a channel filled until it refuses, whether or not it declares a
// capacity. The writer sends without blocking until a send gives -EAGAIN
// (or 16 MiB, 4096 sends, went in: a channel that takes that much is not
// filled here), tries once more with a bound of one time unit, then goes on
// sending while the reader drains the channel with receives that do not
// block, receives of one time unit and receives of the deliver bound, in
// turn. So the paths a transport takes only at the edge of its buffer run:
// a non-blocking send that fits only in part, a refusal after a frame went
// in half, a receive that finds half a frame and may not wait for the rest.
// G-BACKPRESSURE checks where a declared bound refuses; this one checks
// that whatever refuses, where it refuses, loses, splits and repeats
// nothing.
//
// The oracle for each capability class:
//   every class         a send of one time unit into the full channel
//                       sleeps until -ETIMEDOUT (a thread that never
//                       slept in it and was on a CPU a quarter of it
//                       spun: a readiness that ignores the peer's full
//                       queue)
//                       a refused send (-EAGAIN at timeout 0, -ETIMEDOUT at
//                       a bound) reports nothing sent and moved nothing: the
//                       same message is sent again after it (and the
//                       caller's buffer is unchanged: the plugin adapter
//                       checks every send, refused or not); and it keeps
//                       nothing: 16 more refusals in a row (in a third of
//                       the examples sends with a bound of 1 ms that time
//                       out, whose error path is another) leave the writer
//                       holding no more descriptors, shared mappings,
//                       threads or timers than 8 more, and neither its heap
//                       nor its private mappings grow with them (8
//                       allocations or pages in all, 4 in the last 8, and
//                       8 more with each of 3 further blocks of 16, since
//                       a cache bounded in size, such as the malloc cache
//                       of a transport's thread that frees what the sender
//                       allocated, grows for a while too): an error path
//                       that forgets what it made for the message
//   reliable            every message taken arrives whole, in order, once;
//                       a stream: exactly the bytes taken, in order
//   lossy               a subsequence (unordered: a sub-multiset); nothing
//                       owed; after the writer is done one quiet receive
//                       ends it
//   stream              a partial send counts what it moved (none of a
//                       send up to atomic_write, which goes whole or not
//                       at all); the rest goes
//                       in the next send
//   message             a send takes the whole message or nothing
//   counter             skipped: a counter refuses only near 2^64
//   capacity declared   alike (the bound itself is G-BACKPRESSURE's)
//   duplex, peer-close, alike: the writer's end speaks; END only after the
//   realtime or not     writer is done
#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ipcspec/inventory.h"
#include "properties/generic/endless.h"
#include "properties/generic/generic_property.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {
namespace g_full {

constexpr size_t kFull = 0, kDone = 1;                     // flags
constexpr size_t kSent = 0, kSentBytes = 1, kRefused = 2;  // counters
constexpr uint64_t kFillBytes = uint64_t{16} << 20, kFillSends = 4096;
constexpr uint64_t kAfter = 32;     // sends while the reader drains
constexpr uint64_t kRefusals = 16;  // refused sends in a row, counted

// The writer's position: message `i`, of which `offset` bytes went in.
struct Cursor {
  uint64_t i = 0, offset = 0, bytes = 0;
};

// The refusals a run counts: sends with timeout 0 (-EAGAIN), or with a
// bound of `timeout_ms` (-ETIMEDOUT).
struct Refusals {
  int timeout_ms = 0;
  bool Refused(int rc) const { return rc == -EAGAIN || (timeout_ms != 0 && rc == -ETIMEDOUT); }
  std::string Say() const {
    return timeout_ms == 0
               ? "sends refused with -EAGAIN"
               : absl::StrFormat("sends with a bound of %d ms that timed out", timeout_ms);
  }
};

// One send of the rest of the cursor's message with `timeout_ms`: its
// result, with *err set when it broke the contract.
int Attempt(End& end, const Capabilities& c, const Endless& seq, Cursor& at, int timeout_ms,
            SharedFlags& flags, std::string* err) {
  const Sent m = seq.Nth(at.i);
  const std::vector<std::byte> data = Payload(m.writer, m.msg, m.size);
  const std::span<const std::byte> rest = std::span(data).subspan(at.offset);
  size_t n = 0;
  const int rc = end.Send(rest, &n, timeout_ms);
  const bool stream = c.framing == Framing::kStream;
  if (rc != 0 && n != 0) {
    *err = absl::StrFormat(
        "send of %d bytes of %s (timeout %d ms) gave %s yet reported %d bytes sent: a refused "
        "send moves nothing",
        rest.size(), Name(m), timeout_ms, Errno(rc), n);
  } else if (rc == 0 && (n > rest.size() || (!stream && n != rest.size()))) {
    *err = absl::StrFormat("send of %s (%d bytes, timeout %d ms) reported %d bytes sent", Name(m),
                           rest.size(), timeout_ms, n);
  } else if (rc == 0 && n < rest.size() && at.offset == 0 && rest.size() <= c.atomic_write) {
    *err = absl::StrFormat(
        "send of %s (timeout %d ms) took %d bytes of it, though sends up to atomic_write (%d) "
        "never interleave with other writers': such a send goes whole or not at all (the "
        "writer's send of the rest could land after another writer's bytes)",
        Name(m), timeout_ms, n, c.atomic_write);
  } else if (rc == 0) {
    at.offset += n;
    at.bytes += n;
    flags.Counter(kSentBytes).store(at.bytes);
    if (at.offset == m.size) {
      ++at.i;
      at.offset = 0;
      flags.Counter(kSent).store(at.i);
    }
  }
  return rc;
}

// In a sanitized build the sanitizer's allocator serves malloc from
// mappings of its own and keeps freed memory mapped for a while (ASan's
// quarantine): private mappings grow with any allocation there, and only
// the heap (counted by allocation) is judged.
bool MappingsTellLeaks() { return !Sanitized(); }

// What the writer's process has that a refused send might keep: memory on
// its heap, and private memory mapped outside it.
struct Memory {
  int64_t heap = HeapAllocations();
  uint64_t mapped = PrivateAnonymousBytes();
};

// How far memory grew between two counts (an allocator's heap in its
// units, mapped memory in pages), and whether by as much as a block of
// refusals that each kept something would make it grow (n/2 of n).
struct Growth {
  int64_t heap = 0, pages = 0;
  Growth(const Memory& from, const Memory& to)
      : heap(to.heap - from.heap),
        pages((static_cast<int64_t>(to.mapped) - static_cast<int64_t>(from.mapped)) / 4096) {}
  static constexpr int64_t kBlock = static_cast<int64_t>(kRefusals) / 2;
  bool Heap() const { return heap >= kBlock; }
  bool Mapped() const { return MappingsTellLeaks() && pages >= kBlock; }
};

// "" unless memory grew with the refusals between `from` and `mid` and
// again between `mid` and `to` (growth in the first half alone is a buffer
// made once, on first use).
std::string MemoryKept(const Memory& from, const Memory& mid, const Memory& to,
                       const Refusals& how) {
  const Growth all(from, to), late(mid, to);
  const auto n = static_cast<int64_t>(kRefusals);
  if (all.Mapped() && late.pages >= n / 4) {
    return absl::StrFormat(
        "%d %s in a row left the writer with %d KiB more private memory mapped (mmap, outside "
        "its heap), %d KiB in the last %d: a mapping made for each message (a staging buffer, "
        "say) that the refusal never unmaps",
        kRefusals, how.Say(), all.pages * 4, late.pages * 4, kRefusals / 2);
  }
  if (all.Heap() && late.heap >= n / 4) {
    return absl::StrFormat(
        "%d %s in a row left the writer holding about %d %s more on its heap, %d in the last %d: "
        "memory taken for each message that the refusal never frees",
        kRefusals, how.Say(), all.heap, HeapUnit(), late.heap, kRefusals / 2);
  }
  return "";
}

// Whether memory that grew with kRefusals refusals (as MemoryKept found,
// up to `last`) goes on growing with every block of kRefusals more,
// kConfirm of them; `*more` says by how much. A cache bounded in size grows for a while and
// stops: malloc's per-thread cache keeps up to 7 freed chunks of each size,
// and a chunk that a transport's own thread frees fills that thread's
// cache, which the count (made on this thread) sees as held. A leak grows
// with every refusal, however many.
constexpr int kConfirm = 3;
bool KeepsGrowing(End& end, const Capabilities& c, const Endless& seq, Cursor& at,
                  SharedFlags& flags, std::string* err, Memory last, const Refusals& how,
                  std::string* more) {
  int64_t heap = 0, pages = 0;
  for (int b = 0; b < kConfirm; ++b) {
    for (uint64_t k = 0; k < kRefusals; ++k) {
      const int rc = Attempt(end, c, seq, at, how.timeout_ms, flags, err);
      if (!how.Refused(rc) || !err->empty()) return false;
    }
    const Memory now;
    const Growth g(last, now);
    if (!g.Heap() && !g.Mapped()) return false;
    heap += g.heap;
    pages += g.pages;
    last = now;
  }
  *more = absl::StrFormat(
      "; and it went on growing with each of %d more blocks of %d refusals (%d %s on the heap, "
      "%d KiB mapped, in all): not a cache, which stops",
      kConfirm, kRefusals, heap, HeapUnit(), pages * 4);
  return true;
}

// The channel full: kRefusals sends (`how`), each refused, must leave the
// process holding no more than half as many new things, and no memory that
// grows with them ("" or what they kept). A send that goes in after all
// ends the count.
std::string RefusalsKeepNothing(End& end, const Capabilities& c, const Endless& seq, Cursor& at,
                                SharedFlags& flags, std::string* err, const Refusals& how) {
  const ProcessHoldings before = TakeProcessHoldings();
  const Memory from;
  Memory mid;
  for (uint64_t k = 0; k < kRefusals; ++k) {
    if (k == kRefusals / 2) mid = Memory();
    const int rc = Attempt(end, c, seq, at, how.timeout_ms, flags, err);
    if (!how.Refused(rc) || !err->empty()) return "";
  }
  const Memory to;
  const std::vector<std::string> kept = NewHoldings(before, TakeProcessHoldings());
  if (kept.size() >= kRefusals / 2) {
    return absl::StrFormat(
        "%d %s in a row left the writer holding %d more: %s", kRefusals, how.Say(), kept.size(),
        absl::StrJoin(std::span(kept).first(std::min<size_t>(kept.size(), 3)), ", "));
  }
  const std::string leak = MemoryKept(from, mid, to, how);
  std::string more;
  if (leak.empty() || !KeepsGrowing(end, c, seq, at, flags, err, to, how, &more)) return "";
  return leak + more;
}

// The writer: fills the channel until it refuses, once more with a bound,
// then kAfter more messages while the reader drains.
std::string Fill(End& end, const Capabilities& c, const Endless& seq, SharedFlags& flags,
                 const Waits& waits, int unit_ms, const Refusals& refusals) {
  Cursor at;
  std::string err;
  int rc = 0;
  while (rc == 0 && err.empty() && at.bytes < kFillBytes && at.i < kFillSends) {
    rc = Attempt(end, c, seq, at, 0, flags, &err);
  }
  if (err.empty() && rc == -EAGAIN) {
    flags.Counter(kRefused).store(1);
    if (std::string kept = RefusalsKeepNothing(end, c, seq, at, flags, &err, refusals);
        !kept.empty()) {
      flags.Raise(kFull);
      flags.Raise(kDone);
      return kept;
    }
    const long slept = ThreadSleeps();
    const absl::Duration cpu = ThreadCpuTime();
    const absl::Time start = absl::Now();
    rc = err.empty() ? Attempt(end, c, seq, at, unit_ms, flags, &err) : rc;
    const absl::Duration took = absl::Now() - start;
    // Never asleep and on a CPU a quarter of the time or more: a spin (which
    // a loaded machine preempts for the rest). A sleep that it preempted
    // throughout shows no voluntary switch either, but next to no CPU time.
    if (err.empty() && rc != 0 && rc != -ETIMEDOUT) {
      err = absl::StrFormat("a send of %d ms into the full channel gave %s, not -ETIMEDOUT",
                            unit_ms, Errno(rc));
    } else if (const absl::Duration on_cpu = ThreadCpuTime() - cpu;
               err.empty() && rc == -ETIMEDOUT && ThreadSleeps() == slept &&
               took >= absl::Milliseconds(unit_ms) / 2 && on_cpu * 4 >= took) {
      err = absl::StrFormat(
          "a send of %d ms into the full channel timed out after %s without ever sleeping, %s "
          "of it on a CPU: a bounded wait sleeps (one that spins takes the CPU from the reader "
          "it waits for)",
          unit_ms, absl::FormatDuration(absl::Trunc(took, absl::Microseconds(100))),
          absl::FormatDuration(absl::Trunc(on_cpu, absl::Microseconds(100))));
    }
  } else if (err.empty() && rc != 0) {
    err = absl::StrFormat("filling the channel without blocking: %s after %d messages", Errno(rc),
                          at.i);
  }
  flags.Raise(kFull);
  const uint64_t last = at.i + kAfter;
  while (err.empty() && at.i < last) {
    // Without blocking first (a send that fits in part), then with a bound.
    rc = Attempt(end, c, seq, at, 0, flags, &err);
    if (err.empty() && rc == -EAGAIN) rc = Attempt(end, c, seq, at, waits.deliver_ms, flags, &err);
    if (err.empty() && rc != 0 && rc != -EAGAIN) {
      err =
          absl::StrFormat("sending %s while the reader drains: %s", Name(seq.Nth(at.i)), Errno(rc));
    }
  }
  flags.Raise(kDone);
  return err;
}

// The reader: drains the full channel with receives of 0 (six), one time
// unit and the deliver bound, in turn, until the writer is done and what it
// owes has come.
std::string Drain(End& end, const Capabilities& c, Endless& seq, SharedFlags& flags,
                  const Waits& waits, int unit_ms, const Deadline& deadline) {
  if (!flags.WaitFor(kFull, deadline)) return "the writer never filled the channel";
  std::vector<std::byte> buf(DrainBufferSize(c));
  const bool stream = c.framing == Framing::kStream;
  // Mostly without blocking (what finds half a frame), then a time unit,
  // then (lossy: nothing is owed) the deliver bound.
  const int longest = c.reliable ? waits.deliver_ms : unit_ms;
  const int timeouts[] = {0, 0, 0, 0, 0, 0, unit_ms, longest};
  for (uint64_t k = 0;; ++k) {
    const bool done = flags.IsRaised(kDone);
    const uint64_t owed = !c.reliable ? 0
                          : stream    ? flags.Counter(kSentBytes).load()
                                      : flags.Counter(kSent).load();
    // Once all that is owed came, one quiet receive: nothing more (a
    // repeated part of a refused send) may come.
    const bool all_in = done && seq.received() >= owed;
    const int timeout = all_in ? unit_ms : timeouts[k % std::size(timeouts)];
    size_t n = 0;
    const int rc = end.Recv(buf, &n, timeout);
    if (rc == 0) {
      std::string e = seq.On(std::span(buf).first(n), flags.Counter(kSent), false);
      if (!e.empty()) return e;
      continue;
    }
    // The writer raises kDone before it closes: END after that is the end.
    if (rc == kEnd && flags.IsRaised(kDone)) break;
    if (rc == kEnd) {
      return absl::StrFormat("end of stream while the writer was still sending (%d %s received)",
                             seq.received(), stream ? "bytes" : "messages");
    }
    if (rc != -EAGAIN && rc != -ETIMEDOUT) {
      return absl::StrFormat("receive (timeout %d ms) gave %s", timeout, Errno(rc));
    }
    if (all_in) break;
    if (timeout == waits.deliver_ms && seq.received() < owed) {
      return absl::StrFormat(
          "a receive of %d ms gave %s with %d of the %d %s sent still to come: lost, or a "
          "refused send that moved part of its data",
          timeout, Errno(rc), owed - seq.received(), owed, stream ? "bytes" : "messages");
    }
  }
  const uint64_t sent = flags.Counter(kSent), bytes = flags.Counter(kSentBytes);
  return seq.Covers(sent, bytes, "in all");
}

class FullProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    return Needs(c.model != ModelClass::kCounter,
                 "model=counter (a counter refuses only near 2^64)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      // A large message first, so that the fill takes few sends.
      const uint64_t big = c.max_message > 0 ? std::min<uint64_t>(c.max_message, 65536) : 65536;
      std::vector<Step> steps = {Step::Send(1, big, 0)};
      auto sizes = *rc::gen::resize(3, rc::gen::container<std::vector<uint64_t>>(EdgeSize(c)));
      for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i + 1));
      if (*UniformBelow(3) == 0) steps.push_back(bounded_.Step(true));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    std::vector<uint64_t> sizes;
    for (const Sent& m : SendsOf(s, 1)) sizes.push_back(m.size);
    Endless seq(c, sizes);
    const Waits waits = Waits::For(env);
    const int unit_ms =
        std::max<int>(1, static_cast<int>(absl::ToInt64Milliseconds(env.time_unit)));
    SharedFlags flags;
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   return Fill(*end, c, seq, flags, waits, unit_ms,
                               Refusals{bounded_.Of(s) ? 1 : 0});
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   return Drain(*end, c, seq, flags, waits, unit_ms, deadline);
                 }};
    return RunActors(t, env, {writer, reader});
  }

  const YesNoParam bounded_{
      this, 0, "the refusals counted are sends with a bound of 1 ms, each timing out: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(FullProperty, "G-FULL", {.examples = 30});

}  // namespace g_full
}  // namespace
}  // namespace ipcspec::props
