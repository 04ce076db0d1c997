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

#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/shm_sem.h"
#include "properties/support/shm_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace shm_props {

constexpr std::string_view kPlacements[] = {"in the flags' cache line",
                                            "on the page after the flags"};

// An SHM-* property here whose one parameter (index 0) is the size of the
// segment ("the segment is %s"), or of the object, drawn by SegmentSize().
class SizedProperty : public NamedProperty {
 protected:
  explicit SizedProperty(std::string_view size_words = "the segment is %s")
      : size_{this, 0, size_words, 4096, SegmentSize()} {}
  const BytesParam size_;
};

// A SizedProperty about one new POSIX object of that size ("the object is
// %s"), mapped shared: Run makes and maps it and hands both to RunOn.
class MappedObjectProperty : public SizedProperty {
 public:
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const final {
    NamedObject obj;
    Mapping m;
    if (auto broken = CreateMapped(obj, size_.Of(s), m)) return *broken;
    return RunOn(obj, m, size_.Of(s), env);
  }

 protected:
  MappedObjectProperty() : SizedProperty("the object is %s") {}
  virtual Verdict RunOn(NamedObject& obj, Mapping& m, uint64_t size, const CaseEnv& env) const = 0;
};

// A forked child (`who`) that inherits p[0..size) checks it holds pattern 1 and
// writes pattern 2 over it. The child's verdict (a failure is prefixed by
// `child_says`); when the child passed, *unseen is what this process then
// finds that is not pattern 2 ("" when it sees the child's write).
Verdict ChildRewrites(uint8_t* p, uint64_t size, const CaseEnv& env, const char* who,
                      const char* child_says, std::string* unseen) {
  Participants ps(CaseDeadline(env));
  ps.Spawn(who, [&]() -> Verdict {
    if (std::string e = Mismatch(p, size, 1, 0); !e.empty()) {
      return Verdict::Fail(absl::StrCat(child_says, e));
    }
    Fill(p, size, 2, 0);
    return Verdict::Pass();
  });
  Verdict v = ps.Join();
  if (v.ok()) *unseen = Mismatch(p, size, 2, 0);
  return v;
}

// SHM-PUBLISH-SEM and, publishing with atomics, SHM-PUBLISH-ATOMIC.
class PublishProperty final : public NamedProperty {
 public:
  explicit PublishProperty(bool atomic) : atomic_(atomic) {}
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
  const ChoiceParam<bool> placement_{this, 1, "the payload lies %s", false, kPlacements};
};
IPCSPEC_REGISTER_PROPERTY(PublishProperty, "SHM-PUBLISH-SEM", {.applies = ForShm, .examples = 20},
                          /*atomic=*/false);
IPCSPEC_REGISTER_PROPERTY(PublishProperty, "SHM-PUBLISH-ATOMIC",
                          {.applies = ForShm, .examples = 20}, /*atomic=*/true);

class ForkProperty final : public SizedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    return CheckForkSharing(KindFor(t), size_.Of(s), env);
  }
};
IPCSPEC_REGISTER_PROPERTY(ForkProperty, "SHM-FORK", {.applies = ForShm, .examples = 20});

class MapPrivateProperty final : public MappedObjectProperty {
  Verdict RunOn(NamedObject& obj, Mapping& m, uint64_t size, const CaseEnv& env) const override {
    uint8_t* view = m.bytes();
    Fill(view, size, 1, 0);
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
      Fill(p, size, 2, 0);
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
    m.reset();
    if (!failure.empty()) return Verdict::Fail(failure);
    return v;
  }
};
IPCSPEC_REGISTER_PROPERTY(MapPrivateProperty, "SHM-MAP-PRIVATE",
                          {.applies = ForPosix, .examples = 20});

class RmidAttachedProperty final : public SizedProperty {
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
    Fill(p, size, 1, 0);
    struct shmid_ds ds = {};
    std::string failure;
    if (::shmctl(id, IPC_STAT, &ds) != 0) {
      failure = absl::StrCat("IPC_STAT of a removed but attached segment: ", ErrnoName(errno));
    } else if ((ds.shm_perm.mode & SHM_DEST) == 0 || ds.shm_nattch != 1) {
      failure = absl::StrFormat("removed but attached: mode 0%o nattch %d, expected SHM_DEST and 1",
                                ds.shm_perm.mode, ds.shm_nattch);
    }
    if (failure.empty()) {
      std::string e;
      Verdict v = ChildRewrites(p, size, env, "attached child", "inherited attach: ", &e);
      if (!v.ok()) return v;
      if (!e.empty()) {
        failure = "after IPC_RMID a child's write through its inherited attach is not seen: " + e;
      }
    }
    ::shmdt(p);
    if (failure.empty() && (::shmctl(id, IPC_STAT, &ds) == 0 || errno != EINVAL)) {
      failure = absl::StrFormat(
          "after the last detach of a removed segment IPC_STAT gives %s, expected EINVAL",
          errno == 0 ? "success" : ErrnoName(errno));
    }
    return PassUnless(failure);
  }
};
IPCSPEC_REGISTER_PROPERTY(RmidAttachedProperty, "SHM-RMID-ATTACHED",
                          {.applies = ForSysv, .examples = 20});

class UnlinkMappedProperty final : public MappedObjectProperty {
  Verdict RunOn(NamedObject& obj, Mapping& m, uint64_t size, const CaseEnv& env) const override {
    obj.fd.reset();
    if (::shm_unlink(obj.name.c_str()) != 0) return Verdict::Broken("shm_unlink");
    uint8_t* p = m.bytes();
    std::string failure;
    if (FileDescriptor again(::shm_open(obj.name.c_str(), O_RDWR, 0)); again || errno != ENOENT) {
      failure =
          absl::StrCat("shm_open of an unlinked name: ", again ? "succeeded" : ErrnoName(errno));
    }
    Fill(p, size, 1, 0);
    std::string e;
    Verdict v = ChildRewrites(p, size, env, "child", "", &e);
    if (failure.empty() && v.ok() && !e.empty()) {
      failure = "after shm_unlink the child's write through the mapping is not seen: " + e;
    }
    m.reset();
    if (!failure.empty()) return Verdict::Fail(failure);
    return v;
  }
};
IPCSPEC_REGISTER_PROPERTY(UnlinkMappedProperty, "SHM-UNLINK-MAPPED",
                          {.applies = ForPosix, .examples = 20});

}  // namespace shm_props
}  // namespace
}  // namespace ipcspec::props
