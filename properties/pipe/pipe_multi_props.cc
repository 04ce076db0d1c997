// PIPE-* (several processes): writes of at most PIPE_BUF bytes from several
// writer processes never interleave; a blocking write larger than the pipe
// reports the partial count when the reader goes, then EPIPE; closing the
// last writer wakes every blocked reader with end of file. For "pipe" and
// "fifo"; the pipe is made through MechHooks.
#include <limits.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/child_watch.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/pipe_util.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace pipe_multi_props {

class AtomicProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint32_t writers = *rc::gen::inRange<uint32_t>(2, 7);
      std::vector<Step> steps = {writers_.Step(writers),
                                 nonblock_.Step(*rc::gen::arbitrary<bool>())};
      const auto size = rc::gen::oneOf(rc::gen::elementOf(std::vector<uint64_t>{
                                           kRecordHeader, PIPE_BUF, PIPE_BUF - 1, 2048, 4000}),
                                       rc::gen::inRange<uint64_t>(kRecordHeader, PIPE_BUF + 1));
      for (uint32_t w = 1; w <= writers; ++w) {
        const int n = *rc::gen::inRange(1, 40);
        for (int i = 0; i < n; ++i) steps.push_back(Step::Send(w, *size, i));
      }
      return steps;
    });
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s,
                const CaseEnv& env) const override {
    const uint32_t writers = writers_.Of(s);
    const bool nonblock = nonblock_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    ProcessBarrier start(writers);
    Participants ps(deadline);
    std::map<uint32_t, std::vector<size_t>> want;
    for (const Step& st : s.steps) {
      if (st.op == Op::kSend)
        want[st.actor].push_back(std::clamp<size_t>(st.size, kRecordHeader, PIPE_BUF));
    }
    for (uint32_t w = 1; w <= writers; ++w) {
      ps.Spawn(absl::StrCat("writer ", w), [&, w]() -> Verdict {
        p.r.reset();
        if (nonblock) SetNonBlocking(p.w.get(), true);
        if (!start.Wait(deadline)) return Verdict::Broken("start barrier timed out");
        const std::vector<size_t>& sizes = want[w];
        for (size_t i = 0; i < sizes.size(); ++i) {
          const std::vector<std::byte> rec = Record(w, static_cast<uint32_t>(i), sizes[i]);
          for (;;) {
            ssize_t n = ::write(p.w.get(), rec.data(), rec.size());
            if (n == static_cast<ssize_t>(rec.size())) break;
            if (n >= 0) {
              return Verdict::Fail(absl::StrFormat("%s write of %d <= PIPE_BUF bytes wrote only %d",
                                                   nonblock ? "non-blocking" : "blocking",
                                                   rec.size(), n));
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN || !nonblock)
              return Verdict::Fail(absl::StrCat("write: ", ErrnoName(errno)));
            if (PollOne(p.w.get(), POLLOUT, deadline) <= 0)
              return Verdict::Fail("poll(POLLOUT) timed out");
          }
        }
        return Verdict::Pass();
      });
    }
    p.w.reset();
    std::vector<std::byte> all;
    std::vector<std::byte> buf(3 * PIPE_BUF + 17);
    for (;;) {
      if (PollOne(p.r.get(), POLLIN, deadline) <= 0)
        return Verdict::Fail("reader: no data and no EOF in time");
      ssize_t n = ::read(p.r.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        return Verdict::Fail(absl::StrCat("reader: read: ", ErrnoName(errno)));
      }
      all.insert(all.end(), buf.begin(), buf.begin() + n);
    }
    if (Verdict v = ps.Join(); !v.ok()) return v;
    std::map<uint32_t, std::vector<uint32_t>> seen;
    std::map<uint32_t, std::vector<size_t>> lengths;
    if (std::string e = ParseRecords(all, &seen, &lengths); !e.empty()) {
      return Verdict::Fail(absl::StrFormat("%d writers: %s", writers, e));
    }
    for (uint32_t w = 1; w <= writers; ++w) {
      const std::vector<uint32_t>& got = seen[w];
      for (size_t i = 0; i < got.size(); ++i) {
        if (got[i] != i)
          return Verdict::Fail(
              absl::StrFormat("writer %d: record %d arrived as number %d", w, got[i], i));
      }
      if (got.size() != want[w].size() || lengths[w] != want[w]) {
        return Verdict::Fail(absl::StrFormat("writer %d: %d records arrived, %d were written", w,
                                             got.size(), want[w].size()));
      }
    }
    return Verdict::Pass();
  }

  const Param<uint32_t> writers_{this, 0, "%s writer processes share the pipe", 2};
  const Param<bool> nonblock_{this, 1, "the writers are non-blocking: %s", false, SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(AtomicProperty, "PIPE-ATOMIC",
                          {.applies = ForPipeOrFifo, .examples = 25});

class WriteClosedProperty final : public PipeProperty {
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s,
                const CaseEnv& env) const override {
    const long pages = pages_.Of(s);
    if (::fcntl(p.w.get(), F_SETPIPE_SZ, static_cast<int>(pages * ::getpagesize())) < 0) {
      return Verdict::Broken(absl::StrCat("F_SETPIPE_SZ: ", ErrnoName(errno)));
    }
    const long cap = PipeCapacity(p.w.get());
    const Deadline deadline = CaseDeadline(env);
    SharedFlags flags(4);
    Participants ps(deadline);
    ps.Spawn("writer", [&]() -> Verdict {
      p.r.reset();
      flags.Counter(0) = static_cast<uint64_t>(::getpid());
      flags.Raise(0);
      const std::vector<std::byte> big = Payload(1, 0, 2 * cap);
      ssize_t n = ::write(p.w.get(), big.data(), big.size());
      flags.Raise(1);
      if (n != cap) {
        return Verdict::Fail(absl::StrFormat(
            "blocking write of %d bytes (capacity %d) %s when the reader "
            "closed, not the partial count %d",
            big.size(), cap, n < 0 ? ErrnoName(errno) : absl::StrCat("returned ", n), cap));
      }
      n = ::write(p.w.get(), big.data(), 1);
      if (n >= 0 || errno != EPIPE) {
        return Verdict::Fail(absl::StrCat("the next write ",
                                          n < 0 ? ErrnoName(errno) : absl::StrCat("returned ", n),
                                          ", not EPIPE"));
      }
      return Verdict::Pass();
    });
    p.w.reset();
    if (!flags.WaitFor(0, deadline)) return Verdict::Broken("writer never started");
    const auto pid = static_cast<pid_t>(flags.Counter(0).load());
    if (!AwaitBlocked(pid, {SYS_write}, flags, 1, deadline)) {
      return Verdict::Fail(flags.IsRaised(1)
                               ? "the write of twice the capacity returned with the reader open"
                               : "the writer never blocked in write(2) on the full pipe");
    }
    if (long q = BytesQueued(p.r.get()); q != cap) {
      return Verdict::Fail(
          absl::StrFormat("writer blocked with %d bytes queued; capacity %d", q, cap));
    }
    p.r.reset();
    return ps.Join();
  }

  const Param<long> pages_{
      this, 0, "the capacity is %s", 16, rc::gen::element<long>(1, 2, 4, 16), [](uint64_t v) {
        return absl::StrCat(v, v == 1 ? " page" : " pages");
      }};
};
IPCSPEC_REGISTER_PROPERTY(WriteClosedProperty, "PIPE-PARTIAL-CLOSED",
                          {.applies = ForPipeOrFifo, .examples = 8});

class WakeAllProperty final : public PipeProperty {
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s,
                const CaseEnv& env) const override {
    const int readers = readers_.Of(s);
    const int writers = writers_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    // Flags: r (0..7) reader r started; 8 + w writer w's turn to close;
    // 16 + w writer w closed; 24 + r reader r returned; 31 all may exit.
    SharedFlags flags(32);
    Participants ps(deadline);
    for (int r = 0; r < readers; ++r) {
      ps.Spawn(absl::StrCat("reader ", r), [&, r]() -> Verdict {
        p.w.reset();
        flags.Counter(r) = static_cast<uint64_t>(::getpid());
        flags.Raise(r);
        char c;
        ssize_t n = ::read(p.r.get(), &c, 1);
        flags.Raise(24 + r);
        if (n != 0) {
          return Verdict::Fail(absl::StrCat("blocked read woke with ",
                                            n < 0 ? ErrnoName(errno) : absl::StrCat(n, " bytes"),
                                            ", not EOF"));
        }
        return Verdict::Pass();
      });
    }
    for (int w = 0; w < writers; ++w) {
      ps.Spawn(absl::StrCat("writer ", w), [&, w]() -> Verdict {
        p.r.reset();
        if (!flags.WaitFor(8 + w, deadline)) return Verdict::Broken("never told to close");
        p.w.reset();
        flags.Raise(16 + w);
        flags.WaitFor(31, deadline);  // closed, not exited
        return Verdict::Pass();
      });
    }
    p.r.reset();
    p.w.reset();
    auto all_blocked = [&](std::string_view when) -> std::string {
      for (int r = 0; r < readers; ++r) {
        const auto pid = static_cast<pid_t>(flags.Counter(r).load());
        if (!AwaitBlocked(pid, {SYS_read}, flags, 24 + r, deadline)) {
          return absl::StrFormat("reader %d is not blocked in read %s", r, when);
        }
      }
      return "";
    };
    for (int r = 0; r < readers; ++r) {
      if (!flags.WaitFor(r, deadline)) return Verdict::Broken("a reader never started");
    }
    if (std::string e = all_blocked("before any writer closed"); !e.empty())
      return Verdict::Fail(e);
    for (int w = 0; w + 1 < writers; ++w) {
      flags.Raise(8 + w);
      if (!flags.WaitFor(16 + w, deadline)) return Verdict::Broken("a writer never closed");
      if (std::string e =
              all_blocked(absl::StrFormat("after %d of %d writers closed", w + 1, writers));
          !e.empty()) {
        return Verdict::Fail(e);
      }
    }
    flags.Raise(8 + writers - 1);
    flags.WaitFor(16 + writers - 1, deadline);
    // The last close woke every reader: none may be asleep in read again.
    for (int r = 0; r < readers; ++r) {
      if (AwaitBlocked(static_cast<pid_t>(flags.Counter(r).load()), {SYS_read}, flags, 24 + r,
                       deadline)) {
        return Verdict::Fail(absl::StrFormat(
            "reader %d is still blocked in read after the last of %d writers closed", r, writers));
      }
    }
    flags.Raise(31);
    return ps.Join();
  }

  const Param<int> readers_{this, 0, "%s readers block in read", 3, rc::gen::inRange(1, 6)};
  const Param<int> writers_{this, 1, "1 writer holds the pipe open|%s writers hold the pipe open",
                            2, rc::gen::inRange(1, 4)};
};
IPCSPEC_REGISTER_PROPERTY(WakeAllProperty, "PIPE-WAKE-ALL",
                          {.applies = ForPipeOrFifo, .examples = 10});

}  // namespace pipe_multi_props
}  // namespace
}  // namespace ipcspec::props
