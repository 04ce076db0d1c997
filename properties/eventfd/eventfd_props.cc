// EVENTFD-* (counter, semaphore mode, EAGAIN, short buffers, the reserved
// maximum), checked with the raw calls. eventfd(2) goes through MechHooks so
// tests can substitute a wrong one.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace eventfd_props {

constexpr uint64_t kMaxCount = 0xfffffffffffffffeULL;

// read(2) of the 8-byte counter: the value, or -errno in *err.
// A read of `cap` bytes (at most 16): the value, or -errno in *err (EIO:
// not 8 bytes).
uint64_t ReadCounterInto(int fd, size_t cap, int* err) {
  uint64_t v[2] = {0, 0};
  const ssize_t n = ::read(fd, v, std::min(cap, sizeof v));
  *err = n == sizeof(uint64_t) ? 0 : (n < 0 ? errno : EIO);
  return v[0];
}
uint64_t ReadCounter(int fd, int* err) { return ReadCounterInto(fd, sizeof(uint64_t), err); }
int WriteCounter(int fd, uint64_t v) {
  ssize_t n = ::write(fd, &v, sizeof(v));
  return n == sizeof(v) ? 0 : (n < 0 ? errno : EIO);
}

// Steps: kSend(size = value) adds (0 too: a write of 0 succeeds and adds
// nothing), kTryRecv(size = buffer, 8 or 16: a larger buffer still gets
// the 8 bytes) reads.
rc::Gen<std::vector<Step>> CounterOps(const Param<uint64_t>& init, const YesNoParam& blocking) {
  return rc::gen::exec([&init, &blocking] {
    std::vector<Step> steps = {init.Step(*rc::gen::inRange<uint64_t>(0, 4))};
    if (*rc::gen::arbitrary<bool>()) steps.push_back(blocking.Step(true));
    const int n = *rc::gen::inRange(1, 30);
    for (int i = 0; i < n; ++i) {
      if (*rc::gen::inRange(0, 2) == 0) {
        steps.push_back(Step::Send(1,
                                   *rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 5),
                                                   rc::gen::inRange<uint64_t>(1, 1u << 30)),
                                   i));
      } else {
        steps.push_back({Op::kTryRecv, 0, *rc::gen::element<uint64_t>(8, 8, 16), 0});
      }
    }
    return steps;
  });
}

// `call` (-errno or 0, a value in *value) in a thread of its own must wait,
// neither returning nor failing, until `wake` (-errno or 0) has run here.
// "" with its result in *err and *value, or what went wrong (`what` names
// the call).
std::string WaitsUntilWoken(const std::function<int(uint64_t*)>& call, long nr,
                            const std::function<int()>& wake, const char* what,
                            const Deadline& deadline, int* err, uint64_t* value) {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> returned{false};
  std::thread t([&] {
    tid = static_cast<pid_t>(::syscall(SYS_gettid));
    *err = call(value);
    returned = true;
  });
  while (tid.load() == 0) std::this_thread::yield();
  // Asleep in that very call (not on a lock before it), or gone.
  WaitUntilBlockedIn(tid.load(), nr, deadline);
  if (returned.load()) {
    t.join();
    return absl::StrFormat("%s %s instead of waiting", what,
                           *err ? ErrnoName(*err) : absl::StrCat("returned ", *value));
  }
  if (int e = wake(); e != 0) {
    t.detach();  // nothing wakes it: the case ends with this verdict
    return absl::StrCat("waking ", what, ": ", ErrnoName(e));
  }
  t.join();
  return "";
}

// On a blocking descriptor with the counter at 0: a read waits until a
// write of 1, which it then returns. "" or what went wrong.
std::string BlockingReadWaits(int fd, const Deadline& deadline) {
  int err = 0;
  uint64_t got = 0;
  std::string e = WaitsUntilWoken(
      [&](uint64_t* v) {
        int r = 0;
        *v = ReadCounterInto(fd, 8, &r);
        return r;
      },
      SYS_read, [&] { return WriteCounter(fd, 1); }, "a blocking read at zero", deadline, &err,
      &got);
  if (!e.empty()) return e;
  if (err != 0 || got != 1) {
    return absl::StrFormat("the blocked read, woken by write(1), %s, expected 1",
                           err ? ErrnoName(err) : absl::StrCat("returned ", got));
  }
  return "";
}

// EVENTFD-COUNTER and, in EFD_SEMAPHORE mode, EVENTFD-SEMAPHORE.
class CounterProperty final : public NamedProperty {
 public:
  explicit CounterProperty(bool semaphore) : semaphore_(semaphore) {}
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return CounterOps(init_, blocking_);
  }
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kSend) return absl::StrFormat("write(%d) adds to the counter", s.size);
    if (s.op == Op::kTryRecv) return absl::StrFormat("read the counter into %d bytes", s.size);
    return NamedProperty::DescribeStep(s);
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t init = init_.Of(s);
    const bool blocking = blocking_.Of(s);
    FileDescriptor fd(CallEventfd(
        static_cast<unsigned>(init),
        (blocking ? 0 : EFD_NONBLOCK) | EFD_CLOEXEC | (semaphore_ ? EFD_SEMAPHORE : 0)));
    if (!fd) return Verdict::Broken(absl::StrCat("eventfd: ", ErrnoName(errno)));
    uint64_t model = init;
    int i = 0;
    for (const Step& st : s.steps) {
      ++i;
      if (st.op == Op::kSend) {
        if (int e = WriteCounter(fd.get(), st.size); e != 0)
          return Verdict::Fail(absl::StrCat("write: ", ErrnoName(e)));
        model += st.size;
      }
      if (st.op != Op::kTryRecv) continue;
      if (model == 0 && blocking) {
        if (std::string e = BlockingReadWaits(fd.get(), CaseDeadline(env)); !e.empty()) {
          return Verdict::Fail(absl::StrFormat("step %d: %s", i, e));
        }
        continue;
      }
      int err = 0;
      const uint64_t got = ReadCounterInto(fd.get(), st.size, &err);
      if (model == 0) {
        if (err != EAGAIN) {
          return Verdict::Fail(
              absl::StrFormat("step %d: non-blocking read at zero %s, not EAGAIN", i,
                              err ? ErrnoName(err) : absl::StrCat("returned ", got)));
        }
        continue;
      }
      const uint64_t want = semaphore_ ? 1 : model;
      if (err != 0 || got != want) {
        return Verdict::Fail(
            absl::StrFormat("step %d: read with the counter at %d %s, expected %d%s", i, model,
                            err ? ErrnoName(err) : absl::StrCat("returned ", got), want,
                            semaphore_ ? " (EFD_SEMAPHORE)" : " (and a reset to 0)"));
      }
      model -= want;
    }
    return Verdict::Pass();
  }

 private:
  bool semaphore_;
  const Param<uint64_t> init_{this, 0, "eventfd's initial count is %s", 0};
  const YesNoParam blocking_{
      this, 1, "the descriptor blocks (a read at zero waits until a write): %s", false};
};
IPCSPEC_REGISTER_PROPERTY(CounterProperty, "EVENTFD-COUNTER", {.applies = ForEventfd},
                          /*semaphore=*/false);
IPCSPEC_REGISTER_PROPERTY(CounterProperty, "EVENTFD-SEMAPHORE", {.applies = ForEventfd},
                          /*semaphore=*/true);

// The room EVENTFD-EAGAIN leaves below the maximum, for a step.
std::string SayRoomLeft(uint64_t k) { return absl::StrCat(k == 0 ? 0 : k - 1); }

class EagainProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const bool semaphore = semaphore_.Of(s);
    FileDescriptor fd(CallEventfd(0, EFD_NONBLOCK | EFD_CLOEXEC | (semaphore ? EFD_SEMAPHORE : 0)));
    if (!fd) return Verdict::Broken(absl::StrCat("eventfd: ", ErrnoName(errno)));
    int err = 0;
    uint64_t got = ReadCounter(fd.get(), &err);
    if (err != EAGAIN)
      return Verdict::Fail(absl::StrCat(
          "read at zero ", err ? ErrnoName(err) : absl::StrCat("returned ", got), ", not EAGAIN"));
    const uint64_t k = std::max<uint64_t>(1, excess_.Of(s));
    if (int e = WriteCounter(fd.get(), kMaxCount - k + 1); e != 0)
      return Verdict::Fail(absl::StrCat("write: ", ErrnoName(e)));
    if (int e = WriteCounter(fd.get(), k); e != EAGAIN) {
      return Verdict::Fail(
          absl::StrFormat("write of %d with the counter %d below the maximum %s, not EAGAIN", k,
                          k - 1, e ? ErrnoName(e) : "succeeded"));
    }
    if (int e = WriteCounter(fd.get(), k - 1); k > 1 && e != 0) {
      return Verdict::Fail(absl::StrCat("write up to exactly 0xfffffffffffffffe: ", ErrnoName(e)));
    }
    if (!semaphore) {
      got = ReadCounter(fd.get(), &err);
      if (err != 0 || got != kMaxCount)
        return Verdict::Fail(absl::StrFormat("counter read back as %d, not the maximum", got));
    }
    if (blocking_.Of(s)) return BlockingWriteWaits(fd.get(), semaphore, CaseDeadline(env));
    return Verdict::Pass();
  }

  // On the descriptor made blocking, with the counter at the maximum: a
  // write of 1 waits until a read makes room.
  static Verdict BlockingWriteWaits(int fd, bool semaphore, const Deadline& deadline) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    if (!semaphore) {
      if (int e = WriteCounter(fd, kMaxCount); e != 0) {
        return Verdict::Fail(absl::StrCat("write of the maximum: ", ErrnoName(e)));
      }
    }
    int err = 0;
    uint64_t unused = 0;
    std::string e = WaitsUntilWoken([&](uint64_t*) { return WriteCounter(fd, 1); }, SYS_write,
                                    [&] {
                                      int r = 0;
                                      (void)ReadCounter(fd, &r);
                                      return r;
                                    },
                                    "a blocking write of 1 with the counter at the maximum",
                                    deadline, &err, &unused);
    if (!e.empty()) return Verdict::Fail(e);
    if (err != 0) {
      return Verdict::Fail(absl::StrCat("the blocked write, woken by a read, ", ErrnoName(err)));
    }
    return Verdict::Pass();
  }

  const Param<bool> semaphore_{this,    0, "EFD_SEMAPHORE mode: %s", false, rc::gen::inRange(0, 2),
                               SayYesNo};
  const Param<uint64_t> excess_{this,
                                1,
                                "the counter is filled to %s below 0xfffffffffffffffe, then a "
                                "write adds one more than that",
                                1,
                                rc::gen::inRange<uint64_t>(1, 1000),
                                SayRoomLeft};
  const YesNoParam blocking_{this, 2,
                             "then, the descriptor made blocking and the counter at the maximum, "
                             "a write of 1 waits until a read: %s",
                             false};
};
IPCSPEC_REGISTER_PROPERTY(EagainProperty, "EVENTFD-EAGAIN", {.applies = ForEventfd});

// The counter still holds `init`: a read gives it (EAGAIN when it is 0, on a
// non-blocking descriptor). A failure says what was read instead.
Verdict CounterStill(int fd, uint64_t init) {
  int err = 0;
  const uint64_t got = ReadCounter(fd, &err);
  if (init == 0 ? err != EAGAIN : (err != 0 || got != init)) {
    return Verdict::Fail(absl::StrFormat("the counter changed: %d before, read %s after", init,
                                         err ? ErrnoName(err) : absl::StrCat(got)));
  }
  return Verdict::Pass();
}

class ShortBufferProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const size_t len = std::min<size_t>(len_.Of(s), 7);
    const uint64_t init = init_.Of(s);
    FileDescriptor fd(CallEventfd(static_cast<unsigned>(init), EFD_NONBLOCK | EFD_CLOEXEC));
    if (!fd) return Verdict::Broken(absl::StrCat("eventfd: ", ErrnoName(errno)));
    uint64_t v = 1;
    ssize_t n = ::read(fd.get(), &v, len);
    if (n >= 0 || errno != EINVAL) {
      return Verdict::Fail(
          absl::StrFormat("read with a %d-byte buffer %s, not EINVAL", len,
                          n < 0 ? ErrnoName(errno) : absl::StrCat("returned ", n)));
    }
    n = ::write(fd.get(), &v, len);
    if (n >= 0 || errno != EINVAL) {
      return Verdict::Fail(
          absl::StrFormat("write of %d bytes %s, not EINVAL", len,
                          n < 0 ? ErrnoName(errno) : absl::StrCat("returned ", n)));
    }
    return CounterStill(fd.get(), init);
  }

  const BytesParam len_{this, 0, "read and write are given a buffer of %s", 4,
                        rc::gen::inRange(0, 8)};
  const Param<uint64_t> init_{this, 1, "eventfd's initial count is %s", 5,
                              rc::gen::inRange<uint64_t>(0, 100)};
};
IPCSPEC_REGISTER_PROPERTY(ShortBufferProperty, "EVENTFD-EINVAL-SIZE", {.applies = ForEventfd});

class MaxValueProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t init = init_.Of(s);
    FileDescriptor fd(CallEventfd(static_cast<unsigned>(init),
                                  EFD_CLOEXEC | (nonblock_.Of(s) ? EFD_NONBLOCK : 0)));
    if (!fd) return Verdict::Broken(absl::StrCat("eventfd: ", ErrnoName(errno)));
    int e;
    {
      // Last resort: a wrong eventfd that blocks here would hang the case.
      InterruptAfter guard(env.hang_grace);
      e = WriteCounter(fd.get(), ~uint64_t{0});
    }
    if (e != EINVAL) {
      return Verdict::Fail(absl::StrCat("write of 0xffffffffffffffff ",
                                        e == 0       ? "succeeded"
                                        : e == EINTR ? "blocked"
                                                     : ErrnoName(e),
                                        ", not EINVAL"));
    }
    SetNonBlocking(fd.get(), true);
    return CounterStill(fd.get(), init);
  }

  const Param<uint64_t> init_{this, 0, "eventfd's initial count is %s", 0,
                              rc::gen::inRange<uint64_t>(0, 100)};
  const Param<bool> nonblock_{
      this, 1, "the descriptor is O_NONBLOCK: %s", false, rc::gen::inRange(0, 2), SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(MaxValueProperty, "EVENTFD-EINVAL-MAX", {.applies = ForEventfd});

}  // namespace eventfd_props
}  // namespace
}  // namespace ipcspec::props
