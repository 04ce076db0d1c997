// PIPE-* (one process): the kernel's pipe contract on the pipe's two
// descriptors: wrong-direction calls give EBADF and leave the data in flight
// alone, a write without a reader gives EPIPE and one SIGPIPE, end of file
// only after draining, ESPIPE for seeks. They apply to "pipe" (pipe2) and to
// "fifo" (the same rows on a mkfifo node), the pipe made through MechHooks so
// tests can substitute a wrong one. Capacity rules are in
// pipe_capacity_props.cc.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
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
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace pipe_props {

rc::Gen<uint64_t> PipeSize() {
  return rc::gen::oneOf(
      rc::gen::elementOf(std::vector<uint64_t>{0, 1, PIPE_BUF - 1, PIPE_BUF, PIPE_BUF + 1, 3000}),
      rc::gen::inRange<uint64_t>(0, 2 * PIPE_BUF));
}

// Indexed by SEEK_SET, SEEK_CUR, SEEK_END (0, 1, 2).
constexpr std::string_view kWhences[] = {"SEEK_SET", "SEEK_CUR", "SEEK_END"};

class DirectionProperty final : public PipeProperty {
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s,
                const CaseEnv& env) const override {
    const size_t in_flight = in_flight_.Of(s), k = std::max<uint64_t>(1, ask_.Of(s));
    const std::vector<std::byte> data = PipeBytes(1, in_flight);
    if (WriteFull(p.w.get(), data.data(), data.size()) < 0)
      return Verdict::Broken("filling the pipe");
    if (r_nonblock_.Of(s)) SetNonBlocking(p.r.get(), true);
    if (w_nonblock_.Of(s)) SetNonBlocking(p.w.get(), true);
    const std::string mode =
        absl::StrFormat("(read end %s, write end %s, %d bytes in flight)",
                        r_nonblock_.Of(s) ? "O_NONBLOCK" : "blocking",
                        w_nonblock_.Of(s) ? "O_NONBLOCK" : "blocking", in_flight);
    const Deadline deadline = CaseDeadline(env);
    for (int i = 0; i < 2; ++i) {
      const bool write_call = (i == 0) != read_first_.Of(s);
      ChildCall c = WatchCall(
          [&] {
            std::vector<std::byte> buf = PipeBytes(99, k);
            const ssize_t n =
                write_call ? ::write(p.r.get(), buf.data(), k) : ::read(p.w.get(), buf.data(), k);
            return ExitCodeOf(n, errno);
          },
          {SYS_read, SYS_write}, deadline);
      if (!c.FailedWith(EBADF)) {
        return Verdict::Fail(absl::StrFormat(
            "%s(%d bytes) on the %s %s, not EBADF %s", write_call ? "write" : "read", k,
            write_call ? "read end" : "write end", c.Said(), mode));
      }
    }
    if (long q = BytesQueued(p.r.get()); q != static_cast<long>(in_flight)) {
      return Verdict::Fail(absl::StrFormat("after the refused calls %d bytes are queued, not %d %s",
                                           q, in_flight, mode));
    }
    if (std::string e = ExpectExactly(p.r.get(), data, "after the refused calls"); !e.empty()) {
      return Verdict::Fail(absl::StrCat(e, " ", mode));
    }
    const std::vector<std::byte> more = PipeBytes(2, 64);
    SetNonBlocking(p.w.get(), false);
    if (WriteFull(p.w.get(), more.data(), more.size()) < 0) {
      return Verdict::Fail(absl::StrCat("the pipe no longer accepts writes ", mode));
    }
    if (std::string e = ExpectExactly(p.r.get(), more, "the pipe afterwards"); !e.empty()) {
      return Verdict::Fail(absl::StrCat(e, " ", mode));
    }
    return Verdict::Pass();
  }

  const BytesParam in_flight_{this, 0, "%s are in flight in the pipe", 100, PipeSize()};
  const YesNoParam r_nonblock_{this, 1, "the read end is non-blocking: %s", false};
  const YesNoParam w_nonblock_{this, 2, "the write end is non-blocking: %s", false};
  const BytesParam ask_{this, 3, "each wrong-way call asks for %s", 10,
                        rc::gen::inRange<uint64_t>(1, 2 * PIPE_BUF)};
  const YesNoParam read_first_{this, 4, "the read on the write end comes first: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(DirectionProperty, "PIPE-EBADF",
                          {.applies = ForPipeOrFifo, .examples = 20});

class EpipeProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps = {blocked_.Step(*rc::gen::arbitrary<bool>()),
                                 nonblock_.Step(*rc::gen::arbitrary<bool>()),
                                 left_.Step(*rc::gen::arbitrary<bool>())};
      const int n = *rc::gen::inRange(1, 8);
      for (int i = 0; i < n; ++i) {
        steps.push_back(Step::Send(1, *rc::gen::inRange<uint64_t>(1, 20 * PIPE_BUF), i));
      }
      return steps;
    });
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    const bool blocked_mode = blocked_.Of(s);
    if (nonblock_.Of(s)) SetNonBlocking(p.w.get(), true);
    if (left_.Of(s) && WriteFull(p.w.get(), "left", 4) < 0) return Verdict::Broken("write");
    p.r.reset();
    SignalCounter counter(SIGPIPE);
    sigset_t pipe_set, old_mask;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (blocked_mode) {
      ::sigprocmask(SIG_BLOCK, &pipe_set, &old_mask);
    } else if (counter.Install() < 0) {
      return Verdict::Broken("sigaction(SIGPIPE)");
    }
    int i = 0;
    std::string failure;
    for (const Step& st : s.steps) {
      if (st.op != Op::kSend) continue;
      const std::vector<std::byte> data = PipeBytes(st.arg, st.size);
      ssize_t n = ::write(p.w.get(), data.data(), data.size());
      if (n >= 0 || errno != EPIPE) {
        failure = absl::StrFormat("write %d (%d bytes) with no reader %s, not EPIPE", i + 1,
                                  st.size, Said(n, errno));
        break;
      }
      int signals = 0;
      if (blocked_mode) {
        struct timespec zero = {0, 0};
        while (::sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) ++signals;
      } else {
        signals = counter.count() - i;
      }
      if (signals != 1) {
        failure = absl::StrFormat(
            "failed write %d raised %d SIGPIPE, not exactly one (%s)", i + 1, signals,
            blocked_mode ? "blocked, collected with sigtimedwait" : "handler");
        break;
      }
      ++i;
    }
    if (blocked_mode) ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    return PassUnless(failure);
  }

  const Param<bool> blocked_{this, 0, "SIGPIPE is blocked and collected with sigtimedwait: %s",
                             false, SayYesNo};
  const Param<bool> nonblock_{this, 1, "the write end is non-blocking: %s", false, SayYesNo};
  const Param<bool> left_{this, 2, "unread data is left behind: %s", false, SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(EpipeProperty, "PIPE-EPIPE", {.applies = ForPipeOrFifo, .examples = 20});

class EofProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      std::vector<Step> steps;
      const int n = *rc::gen::inRange(0, 8);
      for (int i = 0; i < n; ++i) steps.push_back(Step::Send(1, *PipeSize(), i));
      const int c = *rc::gen::inRange(1, 4);
      for (int i = 0; i < c; ++i)
        steps.push_back(Step::Recv(0, *rc::gen::inRange<uint64_t>(1, 9000)));
      return steps;
    });
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s,
                const CaseEnv& env) const override {
    SetNonBlocking(p.r.get(), true);
    char c;
    ssize_t n = ::read(p.r.get(), &c, 1);
    if (n >= 0 || errno != EAGAIN) {
      return Verdict::Fail(
          absl::StrCat("empty pipe with its writer open: read ", Said(n, errno), ", not EAGAIN"));
    }
    SetNonBlocking(p.r.get(), false);
    std::vector<std::byte> all;
    for (const Step& st : s.steps) {
      if (st.op != Op::kSend) continue;
      const std::vector<std::byte> d = PipeBytes(st.arg, st.size);
      if (all.size() + d.size() > 60000) break;
      if (WriteFull(p.w.get(), d.data(), d.size()) < 0) return Verdict::Broken("write");
      all.insert(all.end(), d.begin(), d.end());
    }
    p.w.reset();
    std::vector<uint64_t> chunks = ChunksOf(s);
    if (chunks.empty()) chunks.push_back(4096);
    std::vector<std::byte> got;
    const Deadline deadline = CaseDeadline(env);
    for (size_t i = 0;; ++i) {
      // With the writer gone a read never waits: readable data or EOF.
      if (PollOne(p.r.get(), POLLIN, deadline) <= 0) {
        return Verdict::Fail(absl::StrFormat(
            "after the writer closed, with %d of %d bytes read, the read end never became "
            "readable (neither data nor end of file)",
            got.size(), all.size()));
      }
      std::vector<std::byte> buf(chunks[i % chunks.size()]);
      n = ::read(p.r.get(), buf.data(), buf.size());
      if (n < 0)
        return Verdict::Fail(absl::StrCat("read after the writer closed ", Said(n, errno)));
      if (n == 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
    if (got != all) {
      return Verdict::Fail(absl::StrFormat(
          "read %d bytes before EOF, %d were buffered (or they differ)", got.size(), all.size()));
    }
    n = ::read(p.r.get(), &c, 1);
    if (n != 0) return Verdict::Fail(absl::StrCat("second read after EOF ", Said(n, errno)));
    // O_NONBLOCK changes nothing once there is no writer: end of file, not
    // EAGAIN (pipe(7)).
    SetNonBlocking(p.r.get(), true);
    n = ::read(p.r.get(), &c, 1);
    if (n != 0) {
      return Verdict::Fail(
          absl::StrCat("a non-blocking read after EOF ", Said(n, errno), ", not 0 (end of file)"));
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(EofProperty, "PIPE-EOF", {.applies = ForPipeOrFifo, .examples = 20});

class EspipeProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const off_t off = static_cast<off_t>(offset_.Of(s));
    const int whence = whence_.Of(s);
    const std::vector<std::byte> data = PipeBytes(3, queued_.Of(s));
    PipeFds p;
    Verdict broken;
    if (!NewFilledPipe(t, env.scratch_dir, data, &p, &broken)) return broken;
    for (int fd : {p.r.get(), p.w.get()}) {
      const char* end = fd == p.r.get() ? "read end" : "write end";
      off_t o = ::lseek(fd, off, whence);
      if (o >= 0 || errno != ESPIPE) {
        return Verdict::Fail(absl::StrFormat("lseek(%d, %s) on the %s %s, not ESPIPE", off,
                                             whence_.Name(whence), end, Said(o, errno)));
      }
    }
    char buf[16];
    ssize_t n = ::pread(p.r.get(), buf, sizeof(buf), off);
    if (n >= 0 || errno != ESPIPE)
      return Verdict::Fail(absl::StrCat("pread ", Said(n, errno), ", not ESPIPE"));
    n = ::pwrite(p.w.get(), "junk", 4, off);
    if (n >= 0 || errno != ESPIPE)
      return Verdict::Fail(absl::StrCat("pwrite ", Said(n, errno), ", not ESPIPE"));
    return PassUnless(ExpectExactly(p.r.get(), data, "after the seeks"));
  }

  const Param<uint64_t> offset_{this, 0, "the offset is %s", 0,
                                rc::gen::inRange<uint64_t>(0, 1u << 20)};
  const ChoiceParam<int> whence_{this, 1, "whence is %s", SEEK_SET, kWhences};
  const BytesParam queued_{this, 2, "%s are queued", 10, PipeSize()};
};
IPCSPEC_REGISTER_PROPERTY(EspipeProperty, "PIPE-ESPIPE",
                          {.applies = ForPipeOrFifo, .examples = 20});

}  // namespace pipe_props
}  // namespace
}  // namespace ipcspec::props
