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

namespace ipcspec::props {
namespace {

bool IsSysv(const Transport& t) { return t.name() == "sysv_shm"; }
const SegmentKind& KindFor(const Transport& t) {
  return IsSysv(t) ? SysvSegments() : PosixSegments();
}
Applicability ForShm(const Transport& t) {
  return OnlyFor(t, {"sysv_shm", "posix_shm"},
                 "SHM-* checks shmget/shmat and shm_open/mmap themselves");
}
Applicability ForSysv(const Transport& t) {
  return OnlyFor(t, {"sysv_shm"}, "a System V shmat/shmctl rule");
}
Applicability ForPosix(const Transport& t) {
  return OnlyFor(t, {"posix_shm"}, "a POSIX shm_open/mmap rule");
}

rc::Gen<uint64_t> SegmentSize() {
  return rc::gen::weightedOneOf<uint64_t>({
      {2, rc::gen::elementOf(std::vector<uint64_t>{1, 8, 4095, 4096, 4097, 65536})},
      {1, rc::gen::inRange<uint64_t>(1, 200000)},
  });
}

class PublishProperty : public NamedProperty {
 public:
  PublishProperty(std::string_view id, std::string_view summary, bool atomic)
      : NamedProperty(
            id, summary,
            "shm_overview(7), shmop(2), sem_overview(7); C++ [atomics.order] release/acquire; "
            "LTP testcases/kernel/ipc/ (shmem_2nstest), testcases/kernel/mem/shmt/"),
        atomic_(atomic) {}
  Applicability AppliesTo(const Transport& t) const override { return ForShm(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(
        rc::gen::resize(
            12, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(SegmentSize()))),
        [](const std::vector<uint64_t>& sizes) {
          std::vector<Step> steps;
          for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
          return steps;
        });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    std::vector<uint64_t> sizes;
    for (const Step& st : s.steps) {
      if (st.op == Op::kSend) sizes.push_back(st.size);
    }
    const Publish how = atomic_     ? Publish::kAtomic
                        : IsSysv(t) ? Publish::kSysvSemaphore
                                    : Publish::kPosixSemaphore;
    return CheckPublish(KindFor(t), how, sizes, env);
  }

 private:
  bool atomic_;
};

class PublishSem : public PublishProperty {
 public:
  PublishSem()
      : PublishProperty(
            "SHM-PUBLISH-SEM",
            "data written by one process into its attachment and published with a semaphore "
            "post is seen whole by another process after its semaphore wait",
            false) {}
};
IPCSPEC_REGISTER_PROPERTY(PublishSem);

class PublishAtomic : public PublishProperty {
 public:
  PublishAtomic()
      : PublishProperty(
            "SHM-PUBLISH-ATOMIC",
            "data published by a release store to an atomic in the segment is seen whole by "
            "another process after its acquire load of that value",
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
            "testcases/kernel/syscalls/ipc/shmat/shmat02.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForShm(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(SegmentSize(),
                        [](uint64_t n) { return std::vector<Step>{Step::Param(0, n)}; });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    return CheckForkSharing(KindFor(t), s.Param(0, 4096), env);
  }
};
IPCSPEC_REGISTER_PROPERTY(ForkProperty);

// A named POSIX shm object of `size` bytes, unlinked when this goes away.
struct NamedObject {
  std::string name = UniqueName("/ipcspec-shm");
  FileDescriptor fd;
  pid_t creator = ::getpid();
  ~NamedObject() {
    if (fd && ::getpid() == creator) ::shm_unlink(name.c_str());
  }
  bool Create(uint64_t size) {
    fd = FileDescriptor(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
    return fd && ::ftruncate(fd.get(), static_cast<off_t>(size)) == 0;
  }
};

// "" when every byte of p[0..size) is PatternByte(writer, msg, .).
std::string Mismatch(const uint8_t* p, uint64_t size, uint32_t writer, uint64_t msg) {
  for (uint64_t b = 0; b < size; ++b) {
    if (p[b] != PatternByte(writer, msg, b)) {
      return absl::StrFormat("byte %d is 0x%02x, expected 0x%02x", b, p[b],
                             PatternByte(writer, msg, b));
    }
  }
  return "";
}

class MapPrivateProperty : public NamedProperty {
 public:
  MapPrivateProperty()
      : NamedProperty(
            "SHM-MAP-PRIVATE",
            "writes through a MAP_PRIVATE mapping of a shm object stay in that process: a "
            "MAP_SHARED mapping in another process and the object itself do not change",
            "mmap(2) MAP_PRIVATE ('copy-on-write mapping'); Open POSIX conformance/interfaces/"
            "mmap/") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPosix(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(SegmentSize(),
                        [](uint64_t n) { return std::vector<Step>{Step::Param(0, n)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t size = s.Param(0, 4096);
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
};
IPCSPEC_REGISTER_PROPERTY(MapPrivateProperty);

class RmidAttachedProperty : public NamedProperty {
 public:
  RmidAttachedProperty()
      : NamedProperty(
            "SHM-RMID-ATTACHED",
            "after IPC_RMID a segment lives while attached (SHM_DEST, still shared with an "
            "attached child) and is gone (EINVAL) after the last detach",
            "shmctl(2) IPC_RMID; LTP testcases/kernel/syscalls/ipc/shmctl/shmctl01.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForSysv(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(SegmentSize(),
                        [](uint64_t n) { return std::vector<Step>{Step::Param(0, n)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t size = s.Param(0, 4096);
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
};
IPCSPEC_REGISTER_PROPERTY(RmidAttachedProperty);

class UnlinkMappedProperty : public NamedProperty {
 public:
  UnlinkMappedProperty()
      : NamedProperty(
            "SHM-UNLINK-MAPPED",
            "after shm_unlink the name is gone (ENOENT) but existing mappings live on and stay "
            "shared with a forked child",
            "shm_unlink(3); Open POSIX conformance/interfaces/shm_unlink/2-1.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPosix(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(SegmentSize(),
                        [](uint64_t n) { return std::vector<Step>{Step::Param(0, n)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t size = s.Param(0, 4096);
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
};
IPCSPEC_REGISTER_PROPERTY(UnlinkMappedProperty);

class SegvProperty : public NamedProperty {
 public:
  SegvProperty()
      : NamedProperty(
            "SHM-SEGV",
            "a write through a read-only attach (SHM_RDONLY / PROT_READ) or after shmdt/munmap "
            "kills the writing process with SIGSEGV",
            "shmat(2) SHM_RDONLY, shmdt(2), mmap(2) SIGSEGV; LTP testcases/kernel/syscalls/ipc/"
            "shmat/shmat01.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForShm(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{Step::Param(0, *rc::gen::inRange(0, 2)),
                               Step::Param(1, *SegmentSize())};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const bool after_detach = s.Param(0, 0) != 0;
    const uint64_t size = s.Param(1, 4096);
    std::string err;
    std::unique_ptr<Segment> seg = KindFor(t).Create(size, &err);
    if (!seg) return Verdict::Broken(err);
    pid_t pid = ForkChild([&] {
      auto* p = static_cast<volatile uint8_t*>(seg->Attach(!after_detach, &err));
      if (p == nullptr) return 20;
      const uint64_t at = size - 1;
      if (after_detach) {
        p[0] = 0x5a;  // allowed while attached
        seg->Detach(const_cast<uint8_t*>(p));
      }
      p[at] = 0xa5;  // must die here
      return 0;
    });
    if (pid < 0) return Verdict::Broken("fork");
    int status = 0;
    if (!WaitChild(pid, 0, CaseDeadline(env), &status)) {
      KillAndReap(pid);
      return Verdict::Fail("the writing child did not finish");
    }
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
};
IPCSPEC_REGISTER_PROPERTY(SegvProperty);

class NattchProperty : public NamedProperty {
 public:
  NattchProperty()
      : NamedProperty("SHM-NATTCH",
                      "shm_nattch counts attaches: every shmat in any process, every attach a fork "
                      "inherits, minus every shmdt and every exit",
                      "shmctl(2) shm_nattch; LTP testcases/kernel/syscalls/ipc/shmctl/shmctl01.c") {
  }
  Applicability AppliesTo(const Transport& t) const override { return ForSysv(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      std::vector<Step> steps = {Step::Param(0, *rc::gen::inRange(1, 5))};  // own attaches
      auto children = *rc::gen::resize(
          4, rc::gen::container<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(1, 4)));
      for (size_t i = 0; i < children.size(); ++i)
        steps.push_back(Step::Param(10 + i, children[i]));
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int own = static_cast<int>(s.Param(0, 1));
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
};
IPCSPEC_REGISTER_PROPERTY(NattchProperty);

class OpenSizeProperty : public NamedProperty {
 public:
  OpenSizeProperty()
      : NamedProperty(
            "SHM-OPEN-SIZE0",
            "shm_open(O_CREAT) makes an object of size 0; ftruncate sets the size another "
            "opener sees",
            "shm_open(3) ('The shared memory object has a size of zero'); Open POSIX "
            "conformance/interfaces/shm_open/") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPosix(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(SegmentSize(),
                        [](uint64_t n) { return std::vector<Step>{Step::Param(0, n)}; });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t size = s.Param(0, 4096);
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
            "22-1.c; LTP testcases/kernel/syscalls/ipc/shmget/shmget02.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForShm(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(rc::gen::inRange(2, 9),
                        [](int n) { return std::vector<Step>{Step::Param(0, n)}; });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const int n = static_cast<int>(s.Param(0, 4));
    const bool sysv = IsSysv(t);
    const std::string name = UniqueName("/ipcspec-excl");
    const key_t key = static_cast<key_t>(std::hash<std::string>{}(name)&0x3fffffff) | 1;
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
};
IPCSPEC_REGISTER_PROPERTY(CreateExclProperty);
}  // namespace
}  // namespace ipcspec::props
