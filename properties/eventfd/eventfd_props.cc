// EVENTFD-* (counter, semaphore mode, EAGAIN, short buffers, the reserved
// maximum), checked with the raw calls. eventfd(2) goes through MechHooks so
// tests can substitute a wrong one.
#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

constexpr uint64_t kMaxCount = 0xfffffffffffffffeULL;

// read(2) of the 8-byte counter: the value, or -errno in *err.
uint64_t ReadCounter(int fd, int* err) {
  uint64_t v = 0;
  ssize_t n = ::read(fd, &v, sizeof(v));
  *err = n == sizeof(v) ? 0 : (n < 0 ? errno : EIO);
  return v;
}
int WriteCounter(int fd, uint64_t v) {
  ssize_t n = ::write(fd, &v, sizeof(v));
  return n == sizeof(v) ? 0 : (n < 0 ? errno : EIO);
}

// Steps: kSend(size = value) adds, kTryRecv reads (non-blocking).
rc::Gen<std::vector<Step>> CounterOps() {
  return rc::gen::exec([] {
    std::vector<Step> steps = {Step::Param(0, *rc::gen::inRange<uint64_t>(0, 4))};  // initval
    const int n = *rc::gen::inRange(1, 30);
    for (int i = 0; i < n; ++i) {
      if (*rc::gen::inRange(0, 2) == 0) {
        steps.push_back(Step::Send(1,
                                   *rc::gen::oneOf(rc::gen::inRange<uint64_t>(1, 5),
                                                   rc::gen::inRange<uint64_t>(1, 1u << 30)),
                                   i));
      } else {
        steps.push_back({Op::kTryRecv, 0, 8, 0});
      }
    }
    return steps;
  });
}

class CounterProperty : public NamedProperty {
 public:
  CounterProperty(std::string_view id, std::string_view summary, bool semaphore)
      : NamedProperty(id, summary,
                      "eventfd(2); LTP testcases/kernel/syscalls/eventfd/eventfd01.c..06.c; "
                      "gVisor test/syscalls/linux/eventfd.cc"),
        semaphore_(semaphore) {}
  Applicability AppliesTo(const Transport& t) const override { return ForEventfd(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override { return CounterOps(); }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t init = s.Param(0, 0);
    FileDescriptor fd(CallEventfd(static_cast<unsigned>(init),
                                  EFD_NONBLOCK | EFD_CLOEXEC | (semaphore_ ? EFD_SEMAPHORE : 0)));
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
      int err = 0;
      const uint64_t got = ReadCounter(fd.get(), &err);
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
};

class ReadResetProperty : public CounterProperty {
 public:
  ReadResetProperty()
      : CounterProperty(
            "EVENTFD-COUNTER",
            "writes add to the counter; a read returns the whole counter and resets it to 0",
            false) {}
};
class SemaphoreProperty : public CounterProperty {
 public:
  SemaphoreProperty()
      : CounterProperty("EVENTFD-SEMAPHORE",
                        "with EFD_SEMAPHORE a read of a non-zero counter returns 1 and "
                        "decrements it by 1",
                        true) {}
};

class EagainProperty : public NamedProperty {
 public:
  EagainProperty()
      : NamedProperty(
            "EVENTFD-EAGAIN",
            "non-blocking read of a zero counter gives EAGAIN (either mode); a non-blocking write "
            "that would pass 0xfffffffffffffffe gives EAGAIN; neither changes the counter",
            "eventfd(2) 'read', 'write'; LTP eventfd/eventfd02.c, eventfd03.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForEventfd(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{Step::Param(0, *rc::gen::inRange(0, 2)),
                               Step::Param(1, *rc::gen::inRange<uint64_t>(1, 1000))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    FileDescriptor fd(
        CallEventfd(0, EFD_NONBLOCK | EFD_CLOEXEC | (s.Param(0, 0) ? EFD_SEMAPHORE : 0)));
    if (!fd) return Verdict::Broken(absl::StrCat("eventfd: ", ErrnoName(errno)));
    int err = 0;
    uint64_t got = ReadCounter(fd.get(), &err);
    if (err != EAGAIN)
      return Verdict::Fail(absl::StrCat(
          "read at zero ", err ? ErrnoName(err) : absl::StrCat("returned ", got), ", not EAGAIN"));
    const uint64_t k = s.Param(1, 1);
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
    if (s.Param(0, 0) == 0) {
      got = ReadCounter(fd.get(), &err);
      if (err != 0 || got != kMaxCount)
        return Verdict::Fail(absl::StrFormat("counter read back as %d, not the maximum", got));
    }
    return Verdict::Pass();
  }
};

class ShortBufferProperty : public NamedProperty {
 public:
  ShortBufferProperty()
      : NamedProperty(
            "EVENTFD-EINVAL-SIZE",
            "read or write with a buffer under 8 bytes gives EINVAL and leaves the counter alone",
            "eventfd(2) EINVAL; LTP eventfd/eventfd04.c; gVisor eventfd.cc "
            "(SmallRead/SmallWrite)") {}
  Applicability AppliesTo(const Transport& t) const override { return ForEventfd(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{Step::Param(0, *rc::gen::inRange(0, 8)),
                               Step::Param(1, *rc::gen::inRange<uint64_t>(0, 100))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const size_t len = s.Param(0, 4);
    const uint64_t init = s.Param(1, 5);
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
    int err = 0;
    const uint64_t got = ReadCounter(fd.get(), &err);
    if (init == 0 ? err != EAGAIN : (err != 0 || got != init)) {
      return Verdict::Fail(absl::StrFormat("the counter changed: %d before, read %s after", init,
                                           err ? ErrnoName(err) : absl::StrCat(got)));
    }
    return Verdict::Pass();
  }
};

class MaxValueProperty : public NamedProperty {
 public:
  MaxValueProperty()
      : NamedProperty("EVENTFD-EINVAL-MAX",
                      "writing 0xffffffffffffffff gives EINVAL and leaves the counter alone",
                      "eventfd(2) EINVAL; LTP eventfd/eventfd05.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForEventfd(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{Step::Param(0, *rc::gen::inRange<uint64_t>(0, 100)),
                               Step::Param(1, *rc::gen::inRange(0, 2))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t init = s.Param(0, 0);
    FileDescriptor fd(
        CallEventfd(static_cast<unsigned>(init), EFD_CLOEXEC | (s.Param(1, 0) ? EFD_NONBLOCK : 0)));
    if (!fd) return Verdict::Broken(absl::StrCat("eventfd: ", ErrnoName(errno)));
    int e;
    {
      InterruptAfter guard(absl::Milliseconds(300));
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
    int err = 0;
    const uint64_t got = ReadCounter(fd.get(), &err);
    if (init == 0 ? err != EAGAIN : (err != 0 || got != init)) {
      return Verdict::Fail(absl::StrFormat("the counter changed: %d before, read %s after", init,
                                           err ? ErrnoName(err) : absl::StrCat(got)));
    }
    return Verdict::Pass();
  }
};

IPCSPEC_REGISTER_PROPERTY(ReadResetProperty);
IPCSPEC_REGISTER_PROPERTY(SemaphoreProperty);
IPCSPEC_REGISTER_PROPERTY(EagainProperty);
IPCSPEC_REGISTER_PROPERTY(ShortBufferProperty);
IPCSPEC_REGISTER_PROPERTY(MaxValueProperty);

}  // namespace
}  // namespace ipcspec::props
