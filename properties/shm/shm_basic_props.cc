// SHM-* basics: a write through a read-only or detached attach dies by
// SIGSEGV, shm_nattch counts attaches, a new POSIX object has size 0, and
// O_EXCL/IPC_EXCL creation races have one winner. Visibility, fork sharing
// and removal are in shm_props.cc.
#include <fcntl.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/shm_sem.h"
#include "properties/support/shm_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace shm_basic_props {

class SegvProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const bool after_detach = after_detach_.Of(s);
    const uint64_t size = size_.Of(s);
    std::string err;
    std::unique_ptr<Segment> seg = KindFor(t).Create(size, &err);
    if (!seg) return Verdict::Broken(err);
    const int status = TouchInChild(
        [&] {
          auto* p = static_cast<volatile uint8_t*>(seg->Attach(!after_detach, &err));
          if (p == nullptr) ::_exit(20);
          if (after_detach) {
            p[0] = 0x5a;  // allowed while attached
            seg->Detach(const_cast<uint8_t*>(p));
          }
          p[size - 1] = 0xa5;  // must die here
        },
        CaseDeadline(env));
    if (status == -1) return Verdict::Fail("the writing child did not finish");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 20)
      return Verdict::Broken("attach failed in the child");
    if (!IsKilledBy(status, SIGSEGV)) {
      return Verdict::Fail(
          absl::StrFormat("a write %s (%s): the child %s, expected killed by SIGSEGV",
                          after_detach ? "after detaching" : "through a read-only attach",
                          KindFor(t).name(), DescribeWaitStatus(status)));
    }
    if (after_detach) {
      auto* p = static_cast<uint8_t*>(seg->Attach(true, &err));
      if (p == nullptr) return Verdict::Broken(err);
      const bool wrote = p[0] == 0x5a;
      seg->Detach(p);
      if (!wrote)
        return Verdict::Fail("the child's write before detaching did not reach the segment");
    }
    return Verdict::Pass();
  }

  const YesNoParam after_detach_{this, 0, "the write comes after detaching: %s", false};
  const BytesParam size_{this, 1, "the segment is %s", 4096, SegmentSize()};
};
IPCSPEC_REGISTER_PROPERTY(SegvProperty, "SHM-SEGV", {.applies = ForShm, .examples = 15});

class NattchProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps = {own_.Step(*rc::gen::inRange(1, 5))};
      auto children = *rc::gen::resize(
          4, rc::gen::container<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(1, 4)));
      for (size_t i = 0; i < children.size() && i < child_.size(); ++i)
        steps.push_back(child_[i].Step(children[i]));
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int own = own_.Of(s);
    std::vector<int> kids;
    for (const Step& st : s.steps) {
      if (st.op == Op::kParam && st.arg >= 10) kids.push_back(static_cast<int>(st.size));
    }
    const int id = ::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id < 0) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
    struct Remove {
      int id;
      ~Remove() { ::shmctl(id, IPC_RMID, nullptr); }
    } remove{id};
    auto nattch = [&] {
      struct shmid_ds ds = {};
      return ::shmctl(id, IPC_STAT, &ds) == 0 ? static_cast<int>(ds.shm_nattch) : -1;
    };
    const Deadline deadline = CaseDeadline(env);
    SharedFlags flags(16);  // i: child i attached; 15: children may go
    Participants ps(deadline);
    int total = 0;
    for (size_t i = 0; i < kids.size(); ++i) {
      total += kids[i];
      ps.Spawn(absl::StrCat("child ", i), [&, i]() -> Verdict {
        for (int k = 0; k < kids[i]; ++k) {
          if (::shmat(id, nullptr, 0) == reinterpret_cast<void*>(-1))
            return Verdict::Broken("shmat");
        }
        flags.Raise(i);
        flags.WaitFor(15, deadline);
        return Verdict::Pass();  // exiting detaches
      });
    }
    for (size_t i = 0; i < kids.size(); ++i) {
      if (!flags.WaitFor(i, deadline)) return Verdict::Broken("a child never attached");
    }
    std::vector<void*> mine;
    for (int k = 0; k < own; ++k) mine.push_back(::shmat(id, nullptr, 0));
    std::string failure;
    auto expect = [&](int want, std::string_view when) {
      if (int got = nattch(); failure.empty() && got != want) {
        failure = absl::StrFormat("%s: shm_nattch %d, expected %d", when, got, want);
      }
    };
    expect(own + total, absl::StrFormat("%d own attaches and %d in children", own, total));
    flags.Raise(15);
    if (Verdict v = ps.Join(); !v.ok()) return v;
    expect(own, "after the children exited");
    pid_t pid = ForkChild([&] { return nattch(); });
    int status = 0;
    if (pid > 0 && WaitChild(pid, 0, deadline, &status) && WIFEXITED(status) && failure.empty() &&
        WEXITSTATUS(status) != 2 * own) {
      failure = absl::StrFormat(
          "a fork child of a process with %d attaches saw shm_nattch %d, expected %d", own,
          WEXITSTATUS(status), 2 * own);
    }
    expect(own, "after the fork child exited");
    for (int k = 0; k < own; ++k) {
      ::shmdt(mine[k]);
      expect(own - k - 1, absl::StrFormat("after %d shmdt", k + 1));
    }
    return PassUnless(failure);
  }

  const Param<int> own_{this, 0, "this process attaches %s times", 1};
  const std::vector<Param<uint64_t>> child_ = {{this, 10, "child 1 attaches %s times", 0},
                                               {this, 11, "child 2 attaches %s times", 0},
                                               {this, 12, "child 3 attaches %s times", 0},
                                               {this, 13, "child 4 attaches %s times", 0}};
};
IPCSPEC_REGISTER_PROPERTY(NattchProperty, "SHM-NATTCH", {.applies = ForSysv, .examples = 15});

class OpenSizeProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t size = size_.Of(s);
    NamedObject obj;
    obj.fd = FileDescriptor(::shm_open(obj.name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
    if (!obj.fd) return Verdict::Broken(absl::StrCat("shm_open: ", ErrnoName(errno)));
    struct stat st = {};
    if (::fstat(obj.fd.get(), &st) != 0 || st.st_size != 0) {
      return Verdict::Fail(absl::StrFormat("a new shm object has size %d, expected 0", st.st_size));
    }
    if (::ftruncate(obj.fd.get(), static_cast<off_t>(size)) != 0)
      return Verdict::Broken("ftruncate");
    FileDescriptor other(::shm_open(obj.name.c_str(), O_RDONLY, 0));
    if (!other || ::fstat(other.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) != size) {
      return Verdict::Fail(
          absl::StrFormat("after ftruncate(%d) another opener sees size %d", size, st.st_size));
    }
    return Verdict::Pass();
  }

  const BytesParam size_{this, 0, "ftruncate sets %s", 4096, SegmentSize()};
};
IPCSPEC_REGISTER_PROPERTY(OpenSizeProperty, "SHM-OPEN-SIZE0",
                          {.applies = ForPosix, .examples = 15});

class CreateExclProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const int n = racers_.Of(s);
    const bool sysv = IsSysv(t);
    const std::string name = UniqueName("/ipcspec-excl");
    const key_t key = FreshKey();
    SharedFlags flags(2);  // counter 0: winners, 1: EEXIST
    ProcessBarrier barrier(static_cast<uint32_t>(n));
    const Deadline deadline = CaseDeadline(env);
    Participants ps(deadline);
    for (int i = 0; i < n; ++i) {
      ps.Spawn(absl::StrCat("racer ", i), [&]() -> Verdict {
        if (!barrier.Wait(deadline)) return Verdict::Broken("barrier");
        int rc = sysv ? ::shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600)
                      : ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
        if (rc >= 0) {
          flags.Counter(0).fetch_add(1);
          if (!sysv) ::close(rc);
        } else if (errno == EEXIST) {
          flags.Counter(1).fetch_add(1);
        } else {
          return Verdict::Fail(absl::StrCat("create: ", ErrnoName(errno)));
        }
        return Verdict::Pass();
      });
    }
    Verdict v = ps.Join();
    if (sysv) {
      if (int id = ::shmget(key, 0, 0); id >= 0) ::shmctl(id, IPC_RMID, nullptr);
    } else {
      ::shm_unlink(name.c_str());
    }
    if (!v.ok()) return v;
    const uint64_t won = flags.Counter(0).load(), lost = flags.Counter(1).load();
    if (won != 1 || lost != static_cast<uint64_t>(n - 1)) {
      return Verdict::Fail(absl::StrFormat(
          "%d processes raced O_EXCL creation: %d won, %d got EEXIST", n, won, lost));
    }
    return Verdict::Pass();
  }

  const Param<int> racers_{this, 0, "%s processes race to create it", 4, rc::gen::inRange(2, 9)};
};
IPCSPEC_REGISTER_PROPERTY(CreateExclProperty, "SHM-CREATE-EXCL",
                          {.applies = ForShm, .examples = 15});
}  // namespace shm_basic_props
}  // namespace
}  // namespace ipcspec::props
