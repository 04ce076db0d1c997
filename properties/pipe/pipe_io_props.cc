// PIPE-* reads and writes: zero-length calls, FIONREAD on both ends, a read
// returns what is there without waiting for more, a byte stream merges
// writes, and a writer blocked on a full pipe gets EPIPE when the last reader
// goes. Packet mode is in pipe_packet_props.cc. For "pipe" and "fifo"; the pipe is made through
// MechHooks.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/child_watch.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/pipe_util.h"
#include "properties/support/proc_util.h"
#include "properties/support/send_steps.h"

namespace ipcspec::props {
namespace {
namespace pipe_io_props {

// The sizes of the kSend steps.
class ZeroIoProperty final : public PipeProperty {
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s,
                const CaseEnv& env) const override {
    if (nonblock_.Of(s)) {
      SetNonBlocking(p.r.get(), true);
      SetNonBlocking(p.w.get(), true);
    }
    char byte = 0;
    char* buf = null_.Of(s) ? nullptr : &byte;
    const Deadline deadline = CaseDeadline(env);
    ChildCall c =
        WatchCall([&] { return ZeroExit(::read(p.r.get(), buf, 0)); }, {SYS_read}, deadline);
    if (!IsZero(c)) {
      return Verdict::Fail(absl::StrCat("read(fd, ", buf ? "buf" : "NULL",
                                        ", 0) on the empty pipe with its writer open ", ZeroSaid(c),
                                        ", expected 0 at once"));
    }
    if (reader_gone_.Of(s)) p.r.reset();
    c = WatchCall(
        [&] {
          DefaultSignalAction(SIGPIPE);
          return ZeroExit(::write(p.w.get(), buf, 0));
        },
        {SYS_write}, deadline);
    if (!IsZero(c)) {
      return Verdict::Fail(absl::StrCat("write(fd, ", buf ? "buf" : "NULL", ", 0) ",
                                        reader_gone_.Of(s) ? "with no reader left " : "",
                                        ZeroSaid(c), ", expected 0"));
    }
    return Verdict::Pass();
  }

  // 0 for a zero result, 254 for another count, else the errno.
  static int ZeroExit(ssize_t n) { return n == 0 ? 0 : n > 0 ? 254 : errno; }
  static bool IsZero(const ChildCall& c) {
    return c.exited && WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0;
  }
  static std::string ZeroSaid(const ChildCall& c) {
    if (c.exited && WIFEXITED(c.status) && WEXITSTATUS(c.status) == 254) return "returned a count";
    return c.Said();
  }

  const YesNoParam nonblock_{this, 0, "both ends are non-blocking: %s", false};
  const YesNoParam reader_gone_{this, 1, "the reader is gone before the write: %s", false};
  const YesNoParam null_{this, 2, "the buffer pointer is NULL: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(ZeroIoProperty, "PIPE-ZERO-IO",
                          {.applies = ForPipeOrFifo, .examples = 10});

class FionreadProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return RoundSteps(1, 10, [](int i) {  // two writes in three, else a read
      if (*rc::gen::elementOf(std::vector<int>{0, 1, 2}) != 0) {
        return std::vector<Step>{Step::Send(1, *rc::gen::inRange<uint64_t>(0, 3 * PIPE_BUF), i)};
      }
      return std::vector<Step>{Step::Recv(0, *rc::gen::inRange<uint64_t>(1, 3 * PIPE_BUF))};
    });
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    if (p.capacity <= 0) return Verdict::Broken("F_GETPIPE_SZ");
    SetNonBlocking(p.r.get(), true);
    long queued = 0;
    int i = 0;
    if (std::string e = Expect(p, 0, "on the new pipe"); !e.empty()) return Verdict::Fail(e);
    for (const Step& st : s.steps) {
      ++i;
      if (st.op == Op::kSend) {
        const long n = std::min<long>(st.size, p.capacity / 2 - queued);
        if (n <= 0) continue;
        const std::vector<std::byte> d = PipeBytes(st.arg, n);
        if (WriteFull(p.w.get(), d.data(), d.size()) < 0) return Verdict::Broken("write");
        queued += n;
      } else if (st.op == Op::kRecv) {
        std::vector<std::byte> buf(st.size);
        const ssize_t n = ::read(p.r.get(), buf.data(), buf.size());
        if (n < 0 && errno != EAGAIN)
          return Verdict::Broken(absl::StrCat("read: ", ErrnoName(errno)));
        queued -= std::max<ssize_t>(n, 0);
      }
      if (std::string e = Expect(p, queued, absl::StrFormat("after step %d", i)); !e.empty())
        return Verdict::Fail(e);
    }
    return Verdict::Pass();
  }

  static std::string Expect(const PipeFds& p, long want, std::string_view when) {
    for (auto [fd, end] : {std::pair{p.r.get(), "read end"}, std::pair{p.w.get(), "write end"}}) {
      if (long q = BytesQueued(fd); q != want) {
        return absl::StrFormat("%s FIONREAD on the %s says %s, expected %d", when, end,
                               q < 0 ? ErrnoName(-q) : absl::StrCat(q), want);
      }
    }
    return "";
  }
};
IPCSPEC_REGISTER_PROPERTY(FionreadProperty, "PIPE-FIONREAD",
                          {.applies = ForPipeOrFifo, .examples = 15});

class ReadAvailableProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t k = *rc::gen::inRange<uint64_t>(1, 2 * PIPE_BUF);
      std::vector<Step> steps = {ask_.Step(k + *rc::gen::inRange<uint64_t>(1, 2 * PIPE_BUF))};
      const int pieces = *rc::gen::inRange(1, 5);
      uint64_t left = k;
      for (int i = 0; i < pieces && left > 0; ++i) {
        const uint64_t n = i + 1 == pieces ? left : *rc::gen::inRange<uint64_t>(1, left + 1);
        steps.push_back(Step::Send(1, n, i));
        left -= n;
      }
      if (left > 0) steps.push_back(Step::Send(1, left, pieces));
      return steps;
    });
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s,
                const CaseEnv& env) const override {
    std::vector<std::byte> all;
    for (const Step& st : s.steps) {
      if (st.op != Op::kSend) continue;
      const std::vector<std::byte> d = PipeBytes(st.arg, st.size);
      if (WriteFull(p.w.get(), d.data(), d.size()) < 0) return Verdict::Broken("write");
      all.insert(all.end(), d.begin(), d.end());
    }
    const size_t n = std::max<size_t>(ask_.Of(s), all.size() + 1);
    const Deadline deadline = CaseDeadline(env);
    ChildCall c = WatchCall(
        [&] {
          std::vector<std::byte> buf(n);
          const ssize_t got = ::read(p.r.get(), buf.data(), n);
          if (got < 0) return ExitCodeOf(got, errno);
          buf.resize(got);
          return buf == all ? 0 : 254;
        },
        {SYS_read}, deadline);
    if (!c.exited || !WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0) {
      return Verdict::Fail(absl::StrFormat(
          "a blocking read of %d bytes with %d queued %s, expected all %d at once", n, all.size(),
          c.exited && WIFEXITED(c.status) && WEXITSTATUS(c.status) == 254
              ? "returned other bytes or another count"
              : c.Said(),
          all.size()));
    }
    // The child's read consumed them from the shared pipe.
    c = WatchCall(
        [&] {
          char one;
          return ExitCodeOf(::read(p.r.get(), &one, 1));
        },
        {SYS_read}, deadline);
    if (!c.blocked) {
      return Verdict::Fail(absl::StrCat("a read of the empty pipe with its writer open ", c.Said(),
                                        ", expected it to block"));
    }
    return Verdict::Pass();
  }

  const BytesParam ask_{this, 0, "the read asks for %s", 2 * PIPE_BUF};
};
IPCSPEC_REGISTER_PROPERTY(ReadAvailableProperty, "PIPE-READ-AVAILABLE",
                          {.applies = ForPipeOrFifo, .examples = 10});

class StreamMergeProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return SendSteps(2, 17, rc::gen::inRange<uint64_t>(1, 2 * PIPE_BUF));
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    const long room = p.capacity > 0 ? p.capacity / 2 : PIPE_BUF;
    std::vector<std::byte> all;
    int writes = 0;
    for (uint64_t size : SizesOf(s)) {
      if (static_cast<long>(all.size() + size) > room) break;
      const std::vector<std::byte> d = PipeBytes(writes, size);
      if (WriteFull(p.w.get(), d.data(), d.size()) < 0) return Verdict::Broken("write");
      all.insert(all.end(), d.begin(), d.end());
      ++writes;
    }
    std::vector<std::byte> buf(all.size());
    SetNonBlocking(p.r.get(), true);
    const ssize_t n = ::read(p.r.get(), buf.data(), buf.size());
    if (n != static_cast<ssize_t>(all.size())) {
      return Verdict::Fail(absl::StrFormat(
          "after %d writes of %d bytes in all, one read of %d bytes %s: write boundaries kept",
          writes, all.size(), all.size(), Said(n, errno)));
    }
    if (buf != all) return Verdict::Fail("one read of all the writes returned other bytes");
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(StreamMergeProperty, "PIPE-STREAM-MERGE",
                          {.applies = ForPipeOrFifo, .examples = 15});

class BlockedEpipeProperty final : public PipeProperty {
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv& env) const override;

  const Param<int> pages_{this, 0, "the capacity is %s pages", 1, rc::gen::element<int>(1, 2, 4)};
  const BytesParam size_{this, 1, "the blocked write is %s", 1,
                         rc::gen::inRange<uint64_t>(1, PIPE_BUF + 1)};
  const Param<int> readers_{this, 2, "%s read descriptors are open", 1, rc::gen::inRange(1, 4)};
};
IPCSPEC_REGISTER_PROPERTY(BlockedEpipeProperty, "PIPE-BLOCKED-EPIPE",
                          {.applies = ForPipeOrFifo, .examples = 8});

Verdict BlockedEpipeProperty::RunOn(PipeFds& p, const Transport&, const Scenario& s,
                                    const CaseEnv& env) const {
  if (::fcntl(p.w.get(), F_SETPIPE_SZ, pages_.Of(s) * PageSize()) < 0)
    return Verdict::Broken(absl::StrCat("F_SETPIPE_SZ: ", ErrnoName(errno)));
  SetNonBlocking(p.w.get(), true);
  if (FillNonBlocking(p.w.get(), PageSize()) <= 0) return Verdict::Broken("filling the pipe");
  SetNonBlocking(p.w.get(), false);
  std::vector<FileDescriptor> readers;
  readers.push_back(std::move(p.r));
  for (int i = 1; i < readers_.Of(s); ++i) readers.emplace_back(::dup(readers[0].get()));
  const Deadline deadline = CaseDeadline(env);
  SharedFlags flags(2);  // 0: the writer started (counter 0: its pid); 1: its write returned
  Participants ps(deadline);
  const size_t size = std::max<uint64_t>(1, size_.Of(s));
  ps.Spawn("writer", [&]() -> Verdict {
    readers.clear();
    SignalCounter counter(SIGPIPE);
    if (counter.Install() < 0) return Verdict::Broken("sigaction(SIGPIPE)");
    flags.Counter(0) = static_cast<uint64_t>(::getpid());
    flags.Raise(0);
    const std::vector<std::byte> d = PipeBytes(9, size);
    const ssize_t n = ::write(p.w.get(), d.data(), d.size());
    const int err = errno;
    flags.Raise(1);
    errno = err;
    if (n >= 0 || errno != EPIPE || counter.count() != 1) {
      return Verdict::Fail(absl::StrFormat(
          "a write of %d bytes blocked on the full pipe %s with %d SIGPIPE when the last reader "
          "closed, expected EPIPE and one SIGPIPE",
          size, Said(n, errno), counter.count()));
    }
    return Verdict::Pass();
  });
  if (!flags.WaitFor(0, deadline)) return Verdict::Broken("the writer never started");
  const auto pid = static_cast<pid_t>(flags.Counter(0).load());
  while (!readers.empty()) {
    if (!AwaitBlocked(pid, {SYS_write}, flags, 1, deadline)) {
      return Verdict::Fail(absl::StrFormat(
          "the write to the full pipe did not stay blocked with %d readers open", readers.size()));
    }
    readers.pop_back();
  }
  return ps.Join();
}

}  // namespace pipe_io_props
}  // namespace
}  // namespace ipcspec::props
