// PIPE-POLL-*: what poll(2) reports on a pipe's ends: POLLIN while data is
// queued and POLLHUP once the last writer is gone (waking a blocked poll),
// POLLOUT while a slot is free and POLLERR once the last reader is gone,
// nothing for the wrong direction, and the same answer when asked again
// (level-triggered). For "pipe" and "fifo"; the pipe is made through MechHooks.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "properties/support/child_watch.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/pipe_util.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace pipe_poll_props {

#ifdef SYS_poll
constexpr long kPollCall = SYS_poll;
#else
constexpr long kPollCall = SYS_ppoll;
#endif

// revents of a poll with timeout 0 (a state query, not a wait), or -errno.
int PollNow(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  const int n = ::poll(&p, 1, 0);
  return n < 0 ? -errno : p.revents;
}

std::string SayEvents(int ev) {
  if (ev < 0) return absl::StrCat("an error (", ErrnoName(-ev), ")");
  std::vector<std::string> names;
  const std::pair<int, const char*> known[] = {{POLLIN, "POLLIN"},   {POLLOUT, "POLLOUT"},
                                               {POLLHUP, "POLLHUP"}, {POLLERR, "POLLERR"},
                                               {POLLPRI, "POLLPRI"}, {POLLNVAL, "POLLNVAL"}};
  for (const auto& [bit, name] : known) {
    if ((ev & bit) != 0) names.push_back(name);
  }
  return names.empty() ? "no event" : absl::StrJoin(names, "|");
}

constexpr int kShown = POLLIN | POLLOUT | POLLHUP | POLLERR | POLLPRI | POLLNVAL;

// "" when the events of `fd` are exactly `want` (of kShown).
std::string ExpectEvents(int fd, short events, int want, std::string_view what) {
  const int got = PollNow(fd, events);
  if (got >= 0 && (got & kShown) == want) return "";
  return absl::StrFormat("%s: poll shows %s, expected %s", what, SayEvents(got), SayEvents(want));
}

class PollHupProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override;

  const BytesParam queued_{
      this, 0, "%s are queued", 0,
      rc::gen::oneOf(rc::gen::just<uint64_t>(0), rc::gen::inRange<uint64_t>(1, 2 * PIPE_BUF))};
  const Param<int> writers_{this, 1, "%s write descriptors are open", 1, rc::gen::inRange(1, 5)};
  const YesNoParam blocking_{this, 2, "a poll waits on the empty pipe meanwhile: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(PollHupProperty, "PIPE-POLL-HUP",
                          {.applies = ForPipeOrFifo, .examples = 15});

Verdict PollHupProperty::Run(const Transport& t, const Scenario& s, const CaseEnv& env) const {
  const std::vector<std::byte> data = PipeBytes(1, queued_.Of(s));
  PipeFds p;
  Verdict broken;
  if (!NewFilledPipe(t, env.scratch_dir, data, &p, &broken)) return broken;
  std::vector<FileDescriptor> writers;
  writers.push_back(std::move(p.w));
  for (int i = 1; i < writers_.Of(s); ++i) writers.emplace_back(::dup(writers[0].get()));
  const int in = data.empty() ? 0 : POLLIN;
  while (writers.size() > 1) {
    writers.pop_back();
    if (std::string e = ExpectEvents(p.r.get(), POLLIN, in,
                                     absl::StrFormat("with %d writers left", writers.size()));
        !e.empty()) {
      return Verdict::Fail(e);
    }
  }
  const Deadline deadline = CaseDeadline(env);
  Participants ps(deadline);
  SharedFlags flags(2);  // 0: the poller started (counter 0: its pid); 1: its poll returned
  const bool blocked_poll = blocking_.Of(s) && data.empty();
  if (blocked_poll) {
    ps.Spawn("poller", [&]() -> Verdict {
      writers.clear();
      flags.Counter(0) = static_cast<uint64_t>(::getpid());
      flags.Raise(0);
      struct pollfd pf = {p.r.get(), POLLIN, 0};
      const int n = ::poll(&pf, 1, deadline.RemainingMs());
      flags.Raise(1);
      if (n != 1 || (pf.revents & kShown) != POLLHUP) {
        return Verdict::Fail(absl::StrFormat(
            "a poll blocked on the empty pipe woke with %s when the last writer closed, "
            "expected POLLHUP",
            n == 1 ? SayEvents(pf.revents) : absl::StrCat("result ", n)));
      }
      return Verdict::Pass();
    });
    if (!flags.WaitFor(0, deadline)) return Verdict::Broken("the poller never started");
    if (!AwaitBlocked(static_cast<pid_t>(flags.Counter(0).load()), {kPollCall}, flags, 1,
                      deadline)) {
      return Verdict::Fail("a poll for POLLIN on the empty pipe with a writer open did not block");
    }
  }
  writers.clear();
  if (std::string e = ExpectEvents(p.r.get(), POLLIN, in | POLLHUP, "after the last writer closed");
      !e.empty()) {
    return Verdict::Fail(e);
  }
  if (!data.empty()) {
    if (std::string e = ExpectExactly(p.r.get(), data, "draining"); !e.empty())
      return Verdict::Fail(e);
    if (std::string e = ExpectEvents(p.r.get(), POLLIN, POLLHUP, "drained, no writer");
        !e.empty()) {
      return Verdict::Fail(e);
    }
  }
  return ps.Join();
}

class PollErrProperty final : public PipeProperty {
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    if (full_.Of(s)) {
      SetNonBlocking(p.w.get(), true);
      if (FillNonBlocking(p.w.get(), PageSize()) <= 0) return Verdict::Broken("filling");
    }
    const int out = full_.Of(s) ? 0 : POLLOUT;
    std::vector<FileDescriptor> readers;
    readers.push_back(std::move(p.r));
    for (int i = 1; i < readers_.Of(s); ++i) readers.emplace_back(::dup(readers[0].get()));
    while (!readers.empty()) {
      if (std::string e = ExpectEvents(p.w.get(), POLLOUT, out,
                                       absl::StrFormat("with %d readers open", readers.size()));
          !e.empty()) {
        return Verdict::Fail(e);
      }
      readers.pop_back();
    }
    if (std::string e =
            ExpectEvents(p.w.get(), POLLOUT, out | POLLERR, "after the last reader closed");
        !e.empty()) {
      return Verdict::Fail(e);
    }
    return Verdict::Pass();
  }

  const YesNoParam full_{this, 0, "the pipe is full: %s", false};
  const Param<int> readers_{this, 1, "%s read descriptors are open", 1, rc::gen::inRange(1, 5)};
};
IPCSPEC_REGISTER_PROPERTY(PollErrProperty, "PIPE-POLL-ERR",
                          {.applies = ForPipeOrFifo, .examples = 15});

class PollReadyProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const int pages = *rc::gen::elementOf(std::vector<int>{1, 2, 4});
      std::vector<Step> steps = {pages_.Step(pages)};
      const int n = *rc::gen::inRange(1, 10);
      for (int i = 0; i < n; ++i) {
        const uint64_t k = *rc::gen::inRange<uint64_t>(1, pages + 1);
        steps.push_back(*rc::gen::arbitrary<bool>() ? Step::Send(1, k, i) : Step::Recv(0, k));
      }
      return steps;
    });
  }
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kSend) return absl::StrFormat("the writer writes %d whole pages", s.size);
    if (s.op == Op::kRecv) return absl::StrFormat("the reader reads %d whole pages", s.size);
    return NamedProperty::DescribeStep(s);
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    const long page = PageSize();
    const long slots = pages_.Of(s);
    if (::fcntl(p.w.get(), F_SETPIPE_SZ, slots * page) < 0)
      return Verdict::Broken(absl::StrCat("F_SETPIPE_SZ: ", ErrnoName(errno)));
    long queued = 0;
    int i = 0;
    for (const Step& st : s.steps) {
      ++i;
      if (st.op == Op::kSend) {
        const long k = std::min<long>(st.size, slots - queued);
        const std::vector<std::byte> d = PipeBytes(i, k * page);
        if (WriteFull(p.w.get(), d.data(), d.size()) < 0) return Verdict::Broken("write");
        queued += k;
      } else if (st.op == Op::kRecv) {
        const long k = std::min<long>(st.size, queued);
        std::vector<std::byte> d(k * page);
        if (ReadFull(p.r.get(), d.data(), d.size()) < 0) return Verdict::Broken("read");
        queued -= k;
      } else {
        continue;
      }
      for (int again = 0; again < 2; ++again) {
        const std::string when = absl::StrFormat("after step %d (%d of %d slots used)%s", i, queued,
                                                 slots, again ? ", asked again" : "");
        if (std::string e = ExpectEvents(p.r.get(), POLLIN | POLLOUT, queued > 0 ? POLLIN : 0,
                                         absl::StrCat(when, ", read end"));
            !e.empty()) {
          return Verdict::Fail(e);
        }
        if (std::string e = ExpectEvents(p.w.get(), POLLIN | POLLOUT, queued < slots ? POLLOUT : 0,
                                         absl::StrCat(when, ", write end"));
            !e.empty()) {
          return Verdict::Fail(e);
        }
      }
    }
    return Verdict::Pass();
  }

  const Param<int> pages_{this, 0, "the capacity is %s pages", 1};
};
IPCSPEC_REGISTER_PROPERTY(PollReadyProperty, "PIPE-POLL-READY",
                          {.applies = ForPipeOrFifo, .examples = 15});

}  // namespace pipe_poll_props
}  // namespace
}  // namespace ipcspec::props
