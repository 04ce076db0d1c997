// SHM-*: shared-memory visibility and life cycle, checked with shmget/shmat
// (sysv_shm) and shm_open/mmap (posix_shm) directly; the ring buffers built
// on them are not involved.
#include <fcntl.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/shm_sem.h"
#include "properties/support/shm_util.h"

namespace ipcspec::props {
namespace {

const SegmentKind& KindFor(const Transport& t) {
  return IsSysv(t) ? SysvSegments() : PosixSegments();
}

rc::Gen<uint64_t> SegmentSize() {
  return rc::gen::weightedOneOf<uint64_t>({
      {2, rc::gen::elementOf(std::vector<uint64_t>{1, 8, 4095, 4096, 4097, 65536})},
      {1, rc::gen::inRange<uint64_t>(1, 200000)},
  });
}

std::string SayPlacement(uint64_t v) {
  return v != 0 ? "on the page after the flags" : "in the flags' cache line";
}

class PublishProperty : public NamedProperty {
 public:
  PublishProperty(std::string_view id, std::string_view summary, std::string_view reference,
                  bool atomic)
      : NamedProperty(id, summary, reference), atomic_(atomic) {}
  Applicability AppliesTo(const Transport& t) const override { return ForShm(t); }
  int DefaultExamples() const override { return 20; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps = {seed_.Step(*rc::gen::inRange<uint32_t>(1, 1000)),
                                 placement_.Step(*rc::gen::arbitrary<bool>())};
      const auto sizes = *rc::gen::resize(
          12, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(SegmentSize())));
      for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    std::vector<uint64_t> sizes;
    for (const Step& st : s.steps) {
      if (st.op == Op::kSend) sizes.push_back(std::max<uint64_t>(1, st.size));
    }
    const Publish how = atomic_     ? Publish::kAtomic
                        : IsSysv(t) ? Publish::kSysvSemaphore
                                    : Publish::kPosixSemaphore;
    PublishOptions options;
    options.seed = seed_.Of(s);
    options.next_page = placement_.Of(s);
    return CheckPublish(KindFor(t), how, sizes, options, env);
  }

 private:
  bool atomic_;
  const Param<uint32_t> seed_{this, 0, "the pattern seed is %s", 1};
  const Param<bool> placement_{this, 1, "the payload lies %s", false, SayPlacement};
};

class PublishSem : public PublishProperty {
 public:
  PublishSem()
      : PublishProperty(
            "SHM-PUBLISH-SEM",
            "data written by one process into its attachment and then published with a "
            "semaphore post is seen whole, every byte of the generated pattern, by another "
            "process after its semaphore wait; a publisher that posts before the data is caught",
            "sem_overview(7), shm_overview(7), shmop(2); POSIX 4.12 'Memory Synchronization' "
            "(sem_post/sem_wait synchronize memory); no gVisor or LTP test checks publication",
            false) {}
};
IPCSPEC_REGISTER_PROPERTY(PublishSem);

class PublishAtomic : public PublishProperty {
 public:
  PublishAtomic()
      : PublishProperty(
            "SHM-PUBLISH-ATOMIC",
            "data published by a release store to an atomic flag in the segment (and a futex "
            "wake) is seen whole by another process after its acquire load of that value; a "
            "publisher that raises the flag before the data is caught",
            "C++ [intro.races] and [atomics.order] (release/acquire), futex(2), shm_overview(7); "
            "no gVisor or LTP test checks publication",
            true) {}
};
IPCSPEC_REGISTER_PROPERTY(PublishAtomic);

class ForkProperty : public NamedProperty {
 public:
  ForkProperty()
      : NamedProperty(
            "SHM-FORK",
            "a fork child sees what the parent wrote to the shared segment, and the parent sees "
            "what the child wrote",
            "fork(2) (shared mappings and attached segments are inherited), shmop(2); LTP "
            "testcases/kernel/mem/shmt/shmt07.c, shmt04.c; Open POSIX conformance/interfaces/"
            "mmap/7-4.c; gVisor test/syscalls/linux/fork.cc ForkTest.SharedMapping") {}
  Applicability AppliesTo(const Transport& t) const override { return ForShm(t); }
  int DefaultExamples() const override { return 20; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(SegmentSize(), [this](uint64_t n) { return std::vector<Step>{size_.Step(n)}; });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    return CheckForkSharing(KindFor(t), size_.Of(s), env);
  }

 private:
  const Param<uint64_t> size_{this, 0, "the segment is %s", 4096, SayBytes};
};
IPCSPEC_REGISTER_PROPERTY(ForkProperty);

class MapPrivateProperty : public NamedProperty {
 public:
  MapPrivateProperty()
      : NamedProperty(
            "SHM-MAP-PRIVATE",
            "writes through a MAP_PRIVATE mapping of a shm object stay in that process: a "
            "MAP_SHARED mapping in another process and the object itself do not change",
            "mmap(2) MAP_PRIVATE ('copy-on-write mapping'); Open POSIX conformance/interfaces/"
            "mmap/7-3.c, 7-2.c; gVisor test/syscalls/linux/mmap.cc "
            "MMapFileTest.WritePrivateOnReadOnlyFd") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPosix(t); }
  int DefaultExamples() const override { return 20; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(SegmentSize(), [this](uint64_t n) { return std::vector<Step>{size_.Step(n)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t size = size_.Of(s);
    NamedObject obj;
    if (!obj.Create(size))
      return Verdict::Broken(absl::StrCat("shm_open/ftruncate: ", ErrnoName(errno)));
    void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, obj.fd.get(), 0);
    if (m == MAP_FAILED) return Verdict::Broken("mmap MAP_SHARED");
    auto* view = static_cast<uint8_t*>(m);
    for (uint64_t b = 0; b < size; ++b) view[b] = PatternByte(1, 0, b);
    SharedFlags flags(2);  // 0: the private writer wrote; 1: checked
    const Deadline deadline = CaseDeadline(env);
    Participants ps(deadline);
    ps.Spawn("private writer", [&]() -> Verdict {
      FileDescriptor fd(::shm_open(obj.name.c_str(), O_RDWR, 0));
      void* pm =
          fd ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0) : MAP_FAILED;
      if (pm == MAP_FAILED)
        return Verdict::Broken(absl::StrCat("shm_open/mmap MAP_PRIVATE: ", ErrnoName(errno)));
      auto* p = static_cast<uint8_t*>(pm);
      for (uint64_t b = 0; b < size; ++b) p[b] = PatternByte(2, 0, b);
      if (std::string e = Mismatch(p, size, 2, 0); !e.empty()) {
        return Verdict::Fail("its own MAP_PRIVATE mapping does not show its writes: " + e);
      }
      flags.Raise(0);
      flags.WaitFor(1, deadline);  // keep the private copy alive meanwhile
      ::munmap(pm, size);
      return Verdict::Pass();
    });
    std::string failure;
    if (!flags.WaitFor(0, deadline)) {
      failure = "the private writer never wrote";
    } else if (std::string e = Mismatch(view, size, 1, 0); !e.empty()) {
      failure =
          "a write through another process's MAP_PRIVATE mapping reached this MAP_SHARED "
          "mapping: " +
          e;
    } else {
      std::vector<uint8_t> file(size);
      if (::pread(obj.fd.get(), file.data(), size, 0) != static_cast<ssize_t>(size)) {
        failure = absl::StrCat("pread of the object: ", ErrnoName(errno));
      } else if (std::string e2 = Mismatch(file.data(), size, 1, 0); !e2.empty()) {
        failure = "a write through a MAP_PRIVATE mapping changed the object: " + e2;
      }
    }
    flags.Raise(1);
    Verdict v = ps.Join();
    ::munmap(m, size);
    if (!failure.empty()) return Verdict::Fail(failure);
    return v;
  }

 private:
  const Param<uint64_t> size_{this, 0, "the object is %s", 4096, SayBytes};
};
IPCSPEC_REGISTER_PROPERTY(MapPrivateProperty);

class RmidAttachedProperty : public NamedProperty {
 public:
  RmidAttachedProperty()
      : NamedProperty(
            "SHM-RMID-ATTACHED",
            "after IPC_RMID a segment lives while attached (SHM_DEST, still shared with an "
            "attached child) and is gone (EINVAL) after the last detach",
            "shmctl(2) IPC_RMID; gVisor test/syscalls/linux/shm.cc "
            "ShmTest.RemovedSegmentsAreMarkedDeleted, ShmTest.RemovedSegmentsAreDestroyed, "
            "ShmDeathTest.SegmentNotAccessibleAfterDetach; LTP testcases/kernel/mem/shmt/shmt02.c, "
            "testcases/kernel/syscalls/shmctl/shmctl02.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForSysv(t); }
  int DefaultExamples() const override { return 20; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(SegmentSize(), [this](uint64_t n) { return std::vector<Step>{size_.Step(n)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t size = size_.Of(s);
    const int id = ::shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
    if (id < 0) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
    auto* p = static_cast<uint8_t*>(::shmat(id, nullptr, 0));
    if (p == reinterpret_cast<uint8_t*>(-1)) {
      ::shmctl(id, IPC_RMID, nullptr);
      return Verdict::Broken("shmat");
    }
    if (::shmctl(id, IPC_RMID, nullptr) != 0) return Verdict::Broken("shmctl IPC_RMID");
    for (uint64_t b = 0; b < size; ++b) p[b] = PatternByte(1, 0, b);
    struct shmid_ds ds = {};
    std::string failure;
    if (::shmctl(id, IPC_STAT, &ds) != 0) {
      failure = absl::StrCat("IPC_STAT of a removed but attached segment: ", ErrnoName(errno));
    } else if ((ds.shm_perm.mode & SHM_DEST) == 0 || ds.shm_nattch != 1) {
      failure = absl::StrFormat("removed but attached: mode 0%o nattch %d, expected SHM_DEST and 1",
                                ds.shm_perm.mode, ds.shm_nattch);
    }
    if (failure.empty()) {
      Participants ps(CaseDeadline(env));
      ps.Spawn("attached child", [&]() -> Verdict {
        if (std::string e = Mismatch(p, size, 1, 0); !e.empty())
          return Verdict::Fail("inherited attach: " + e);
        for (uint64_t b = 0; b < size; ++b) p[b] = PatternByte(2, 0, b);
        return Verdict::Pass();
      });
      Verdict v = ps.Join();
      if (!v.ok()) return v;
      if (std::string e = Mismatch(p, size, 2, 0); !e.empty()) {
        failure = "after IPC_RMID a child's write through its inherited attach is not seen: " + e;
      }
    }
    ::shmdt(p);
    if (failure.empty() && (::shmctl(id, IPC_STAT, &ds) == 0 || errno != EINVAL)) {
      failure = absl::StrFormat(
          "after the last detach of a removed segment IPC_STAT gives %s, expected EINVAL",
          errno == 0 ? "success" : ErrnoName(errno));
    }
    return failure.empty() ? Verdict::Pass() : Verdict::Fail(failure);
  }

 private:
  const Param<uint64_t> size_{this, 0, "the segment is %s", 4096, SayBytes};
};
IPCSPEC_REGISTER_PROPERTY(RmidAttachedProperty);

class UnlinkMappedProperty : public NamedProperty {
 public:
  UnlinkMappedProperty()
      : NamedProperty(
            "SHM-UNLINK-MAPPED",
            "after shm_unlink the name is gone (ENOENT) but existing mappings live on and stay "
            "shared with a forked child",
            "shm_unlink(3); Open POSIX conformance/interfaces/shm_unlink/2-1.c, 3-1.c, "
            "shm_open/28-2.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPosix(t); }
  int DefaultExamples() const override { return 20; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(SegmentSize(), [this](uint64_t n) { return std::vector<Step>{size_.Step(n)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t size = size_.Of(s);
    NamedObject obj;
    if (!obj.Create(size))
      return Verdict::Broken(absl::StrCat("shm_open/ftruncate: ", ErrnoName(errno)));
    void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, obj.fd.get(), 0);
    if (m == MAP_FAILED) return Verdict::Broken("mmap");
    obj.fd.reset();
    if (::shm_unlink(obj.name.c_str()) != 0) return Verdict::Broken("shm_unlink");
    auto* p = static_cast<uint8_t*>(m);
    std::string failure;
    if (FileDescriptor again(::shm_open(obj.name.c_str(), O_RDWR, 0)); again || errno != ENOENT) {
      failure =
          absl::StrCat("shm_open of an unlinked name: ", again ? "succeeded" : ErrnoName(errno));
    }
    for (uint64_t b = 0; b < size; ++b) p[b] = PatternByte(1, 0, b);
    Participants ps(CaseDeadline(env));
    ps.Spawn("child", [&]() -> Verdict {
      if (std::string e = Mismatch(p, size, 1, 0); !e.empty()) return Verdict::Fail(e);
      for (uint64_t b = 0; b < size; ++b) p[b] = PatternByte(2, 0, b);
      return Verdict::Pass();
    });
    Verdict v = ps.Join();
    if (failure.empty() && v.ok()) {
      if (std::string e = Mismatch(p, size, 2, 0); !e.empty()) {
        failure = "after shm_unlink the child's write through the mapping is not seen: " + e;
      }
    }
    ::munmap(m, size);
    if (!failure.empty()) return Verdict::Fail(failure);
    return v;
  }

 private:
  const Param<uint64_t> size_{this, 0, "the object is %s", 4096, SayBytes};
};
IPCSPEC_REGISTER_PROPERTY(UnlinkMappedProperty);

class SegvProperty : public NamedProperty {
 public:
  SegvProperty()
      : NamedProperty(
            "SHM-SEGV",
            "a write through a read-only attach (SHM_RDONLY / PROT_READ) or after shmdt/munmap "
            "kills the writing process with SIGSEGV",
            "shmat(2) SHM_RDONLY, shmdt(2), mmap(2) SIGSEGV; LTP testcases/kernel/syscalls/"
            "shmat/shmat01.c, shmdt/shmdt01.c; gVisor test/syscalls/linux/shm.cc "
            "ShmDeathTest.ReadonlySegment, ShmDeathTest.SegmentNotAccessibleAfterDetach") {}
  Applicability AppliesTo(const Transport& t) const override { return ForShm(t); }
  int DefaultExamples() const override { return 15; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      return std::vector<Step>{after_detach_.Step(*rc::gen::arbitrary<bool>()),
                               size_.Step(*SegmentSize())};
    });
  }
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

 private:
  const Param<bool> after_detach_{this, 0, "the write comes after detaching: %s", false,
                                  SayYesNo};
  const Param<uint64_t> size_{this, 1, "the segment is %s", 4096, SayBytes};
};
IPCSPEC_REGISTER_PROPERTY(SegvProperty);

class NattchProperty : public NamedProperty {
 public:
  NattchProperty()
      : NamedProperty("SHM-NATTCH",
                      "shm_nattch counts attaches: every shmat in any process, every attach a fork "
                      "inherits, minus every shmdt and every exit",
                      "shmctl(2) shm_nattch; LTP testcases/kernel/syscalls/shmctl/shmctl01.c; "
                      "gVisor test/syscalls/linux/shm.cc ShmTest.AttachDetach") {}
  int DefaultExamples() const override { return 15; }
  Applicability AppliesTo(const Transport& t) const override { return ForSysv(t); }
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
    return failure.empty() ? Verdict::Pass() : Verdict::Fail(failure);
  }

 private:
  const Param<int> own_{this, 0, "this process attaches %s times", 1};
  const std::vector<Param<uint64_t>> child_ = {
      {this, 10, "child 1 attaches %s times", 0}, {this, 11, "child 2 attaches %s times", 0},
      {this, 12, "child 3 attaches %s times", 0}, {this, 13, "child 4 attaches %s times", 0}};
};
IPCSPEC_REGISTER_PROPERTY(NattchProperty);

class OpenSizeProperty : public NamedProperty {
 public:
  OpenSizeProperty()
      : NamedProperty(
            "SHM-OPEN-SIZE0",
            "shm_open(O_CREAT) makes an object of size 0; ftruncate sets the size another "
            "opener sees",
            "shm_open(3) ('A new shared memory object initially has zero length'); Open POSIX "
            "conformance/interfaces/shm_open/21-1.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPosix(t); }
  int DefaultExamples() const override { return 15; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(SegmentSize(), [this](uint64_t n) { return std::vector<Step>{size_.Step(n)}; });
  }
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

 private:
  const Param<uint64_t> size_{this, 0, "ftruncate sets %s", 4096, SayBytes};
};
IPCSPEC_REGISTER_PROPERTY(OpenSizeProperty);

class CreateExclProperty : public NamedProperty {
 public:
  CreateExclProperty()
      : NamedProperty(
            "SHM-CREATE-EXCL",
            "N processes racing to create one name/key with O_CREAT|O_EXCL (IPC_CREAT|IPC_EXCL): "
            "exactly one wins, the others get EEXIST",
            "shm_open(3) O_EXCL, shmget(2) IPC_EXCL; Open POSIX conformance/interfaces/shm_open/"
            "22-1.c, 23-1.c; LTP testcases/kernel/syscalls/shmget/shmget02.c; gVisor "
            "test/syscalls/linux/shm.cc ShmTest.RequestingDuplicateCreationFails") {}
  Applicability AppliesTo(const Transport& t) const override { return ForShm(t); }
  int DefaultExamples() const override { return 15; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(rc::gen::inRange(2, 9),
                        [this](int n) { return std::vector<Step>{racers_.Step(n)}; });
  }
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

 private:
  const Param<int> racers_{this, 0, "%s processes race to create it", 4};
};
IPCSPEC_REGISTER_PROPERTY(CreateExclProperty);
}  // namespace
}  // namespace ipcspec::props
