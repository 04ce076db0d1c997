// SHM-* lifetime: data survives every detach and close until the object is
// removed; a removed System V segment can still be attached while it has
// attaches, survives repeated IPC_RMID and is gone from its key at once; a
// POSIX name can be reused at once after shm_unlink for a new, empty object
// while an open descriptor keeps the old one usable.
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/child_watch.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/shm_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace shm_life_props {

std::string SayWho(uint64_t v) { return v != 0 ? "a forked child" : "this process"; }

// One attach-check-write-detach round of SHM-PERSIST: "" or what went wrong.
std::string PersistRound(const Transport& t, int id, const NamedObject& obj, uint64_t size,
                         uint64_t round) {
  Mapping m;
  if (IsSysv(t)) {
    m = Attach(id);
  } else {
    FileDescriptor fd(obj.Reopen(O_RDWR));
    if (fd) m = MapShared(fd.get(), size);
  }
  if (!m.ok()) return absl::StrCat("attaching again: ", ErrnoName(errno));
  if (std::string e = Mismatch(m.bytes(), size, 1, round); !e.empty()) {
    return absl::StrFormat("after every attach was detached (round %d): %s", round, e);
  }
  Fill(m.bytes(), size, 1, round + 1);
  return "";
}

class PersistProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps = {size_.Step(*ShmSize())};
      const int rounds = *rc::gen::inRange(1, 5);
      for (int i = 0; i < rounds; ++i) {
        steps.push_back(Step::Send(*rc::gen::elementOf(std::vector<uint32_t>{0, 1}), 1, i));
      }
      return steps;
    });
  }
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kSend) {
      return absl::StrFormat("%s attaches, checks, writes and detaches", SayWho(s.actor));
    }
    return NamedProperty::DescribeStep(s);
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t size = std::max<uint64_t>(1, size_.Of(s));
    NamedObject obj;
    SysvId id(IsSysv(t) ? ::shmget(IPC_PRIVATE, size, IPC_CREAT | 0600) : -1);
    if (IsSysv(t) ? !id : !obj.Create(size))
      return Verdict::Broken(absl::StrCat("creating the segment: ", ErrnoName(errno)));
    obj.fd.reset();
    {
      Mapping m =
          IsSysv(t) ? Attach(id.get()) : MapShared(FileDescriptor(obj.Reopen(O_RDWR)).get(), size);
      if (!m.ok()) return Verdict::Broken(absl::StrCat("attaching: ", ErrnoName(errno)));
      Fill(m.bytes(), size, 1, 0);
    }
    uint64_t round = 0;
    for (const Step& st : s.steps) {
      if (st.op != Op::kSend) continue;
      std::string failure;
      if (st.actor == 0) {
        failure = PersistRound(t, id.get(), obj, size, round);
      } else {
        failure = CheckInChild([&] { return PersistRound(t, id.get(), obj, size, round); },
                               CaseDeadline(env));
        if (!failure.empty()) failure = "in a forked child: " + failure;
      }
      if (!failure.empty()) return Verdict::Fail(failure);
      ++round;
    }
    return PassUnless(PersistRound(t, id.get(), obj, size, round));
  }

  const BytesParam size_{this, 0, "the segment is %s", 4096};
};
IPCSPEC_REGISTER_PROPERTY(PersistProperty, "SHM-PERSIST", {.applies = ForShm, .examples = 15});

class RmidReattachProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t size = std::max<uint64_t>(1, size_.Of(s));
    SysvId id(::shmget(IPC_PRIVATE, size, IPC_CREAT | 0600));
    if (!id) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
    std::vector<Mapping> attaches;
    for (int i = 0; i < std::max(1, attaches_.Of(s)); ++i) {
      attaches.push_back(Attach(id.get()));
      if (!attaches.back().ok()) return Verdict::Broken(absl::StrCat("shmat: ", ErrnoName(errno)));
    }
    Fill(attaches[0].bytes(), size, 1, 0);
    if (::shmctl(id.get(), IPC_RMID, nullptr) != 0) return Verdict::Broken("IPC_RMID");
    auto reattach = [&]() -> std::string {
      Mapping again = Attach(id.get());
      if (!again.ok()) {
        return absl::StrFormat("shmat of a removed segment with %d attaches: %s", attaches.size(),
                               ErrnoName(errno));
      }
      if (std::string e = Mismatch(again.bytes(), size, 1, 0); !e.empty())
        return "the new attach of the removed segment: " + e;
      Fill(again.bytes(), size, 2, 0);
      return "";
    };
    std::string failure = child_.Of(s) ? CheckInChild(reattach, CaseDeadline(env)) : reattach();
    if (!failure.empty() && child_.Of(s)) failure = "in a child: " + failure;
    if (failure.empty()) {
      if (std::string e = Mismatch(attaches[0].bytes(), size, 2, 0); !e.empty())
        failure = "a write through the new attach is not seen through the old one: " + e;
    }
    return PassUnless(failure);
  }

  const BytesParam size_{this, 0, "the segment is %s", 4096, ShmSize()};
  const Param<int> attaches_{this, 1, "it has %s attaches when removed", 1, rc::gen::inRange(1, 4)};
  const YesNoParam child_{this, 2, "a forked child attaches it again: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(RmidReattachProperty, "SHM-RMID-REATTACH",
                          {.applies = ForSysv, .examples = 10});

class RmidRepeatProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t size = std::max<uint64_t>(1, size_.Of(s));
    const int id = ::shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
    if (id < 0) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
    std::vector<Mapping> attaches;
    for (int i = 0; i < std::max(1, attaches_.Of(s)); ++i) attaches.push_back(Attach(id));
    SysvId remove_at_end(id);
    if (!attaches[0].ok()) return Verdict::Broken(absl::StrCat("shmat: ", ErrnoName(errno)));
    Fill(attaches[0].bytes(), size, 1, 0);
    for (int k = 0; k < std::max(2, times_.Of(s)); ++k) {
      if (::shmctl(id, IPC_RMID, nullptr) != 0) {
        return Verdict::Fail(absl::StrFormat("IPC_RMID number %d of an attached segment: %s", k + 1,
                                             ErrnoName(errno)));
      }
      if (std::string e = Mismatch(attaches[0].bytes(), size, 1, 0); !e.empty())
        return Verdict::Fail(absl::StrFormat("after IPC_RMID number %d: %s", k + 1, e));
      if (int n = Nattch(id); n != static_cast<int>(attaches.size())) {
        return Verdict::Fail(absl::StrFormat("after IPC_RMID number %d, shm_nattch is %s, not %d",
                                             k + 1, n < 0 ? ErrnoName(-n) : absl::StrCat(n),
                                             attaches.size()));
      }
    }
    attaches.clear();
    struct shmid_ds ds = {};
    if (::shmctl(id, IPC_STAT, &ds) == 0 || (errno != EINVAL && errno != EIDRM)) {
      return Verdict::Fail(absl::StrCat("after the last detach of a removed segment IPC_STAT ",
                                        errno == 0 ? "succeeded" : ErrnoName(errno),
                                        ", expected EINVAL"));
    }
    return Verdict::Pass();
  }

  const BytesParam size_{this, 0, "the segment is %s", 4096, ShmSize()};
  const Param<int> times_{this, 1, "IPC_RMID is called %s times", 2, rc::gen::inRange(2, 9)};
  const Param<int> attaches_{this, 2, "it has %s attaches", 1, rc::gen::inRange(1, 4)};
};
IPCSPEC_REGISTER_PROPERTY(RmidRepeatProperty, "SHM-RMID-REPEAT",
                          {.applies = ForSysv, .examples = 10});

class RmidKeyGoneProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t size = std::max<uint64_t>(1, size_.Of(s));
    const key_t key = FreshKey();
    SysvId id(::shmget(key, size, IPC_CREAT | IPC_EXCL | 0600));
    if (!id) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
    Mapping m;
    if (attached_.Of(s)) {
      m = Attach(id.get());
      if (!m.ok()) return Verdict::Broken("shmat");
      Fill(m.bytes(), size, 1, 0);
    }
    if (::shmctl(id.get(), IPC_RMID, nullptr) != 0) return Verdict::Broken("IPC_RMID");
    const int found = ::shmget(key, 0, 0);
    SysvId stray(found >= 0 && found != id.get() ? found : -1);
    if (found >= 0 || errno != ENOENT) {
      return Verdict::Fail(absl::StrFormat(
          "after IPC_RMID%s, shmget of its key without IPC_CREAT %s, expected ENOENT",
          attached_.Of(s) ? " (still attached)" : "",
          found >= 0 ? absl::StrCat("found id ", found) : ErrnoName(errno)));
    }
    SysvId fresh(::shmget(key, size, IPC_CREAT | 0600));
    if (!fresh)
      return Verdict::Fail(absl::StrCat("shmget(IPC_CREAT) of the key: ", ErrnoName(errno)));
    if (fresh.get() == id.get())
      return Verdict::Fail("IPC_CREAT of a removed segment's key gave the removed id back");
    Mapping again = Attach(fresh.get());
    if (!again.ok()) return Verdict::Broken("shmat of the new segment");
    return PassUnless(NotZero(again.bytes(), size), "the new segment for the key is not zeroed: ");
  }

  const BytesParam size_{this, 0, "the segment is %s", 4096, ShmSize()};
  const YesNoParam attached_{this, 1, "it is still attached when removed: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(RmidKeyGoneProperty, "SHM-RMID-KEY-GONE",
                          {.applies = ForSysv, .examples = 10});

class UnlinkRecreateProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t size = std::max<uint64_t>(1, size_.Of(s));
    NamedObject obj;
    Mapping old;
    if (auto broken = CreateMapped(obj, size, old)) return *broken;
    Fill(old.bytes(), size, 1, 0);
    if (!keep_fd_.Of(s)) obj.fd.reset();
    if (::shm_unlink(obj.name.c_str()) != 0) return Verdict::Broken("shm_unlink");
    FileDescriptor fd(::shm_open(obj.name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
    if (!fd) {
      return Verdict::Fail(
          absl::StrCat("shm_open(O_CREAT|O_EXCL) of an unlinked name: ", ErrnoName(errno)));
    }
    struct stat st = {};
    if (::fstat(fd.get(), &st) != 0 || st.st_size != 0) {
      return Verdict::Fail(absl::StrFormat(
          "the object made anew under an unlinked name has size %d, expected 0", st.st_size));
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return Verdict::Broken("ftruncate");
    Mapping fresh = MapShared(fd.get(), size);
    if (!fresh.ok()) return Verdict::Broken("mmap of the new object");
    if (std::string e = NotZero(fresh.bytes(), size); !e.empty())
      return Verdict::Fail("the new object under the reused name is not empty: " + e);
    Fill(fresh.bytes(), size, 2, 0);
    if (std::string e = Mismatch(old.bytes(), size, 1, 0); !e.empty())
      return Verdict::Fail("a write to the new object reached the old mapping: " + e);
    Fill(old.bytes(), size, 3, 0);
    return PassUnless(Mismatch(fresh.bytes(), size, 2, 0),
                      "a write through the old mapping reached the new object: ");
  }

  const BytesParam size_{this, 0, "the object is %s", 4096, ShmSize()};
  const YesNoParam keep_fd_{this, 1, "the old descriptor stays open: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(UnlinkRecreateProperty, "SHM-UNLINK-RECREATE",
                          {.applies = ForPosix, .examples = 10});

class UnlinkFdProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t size = std::max<uint64_t>(1, size_.Of(s));
    const uint64_t resize = std::max<uint64_t>(1, resize_.Of(s));
    NamedObject obj;
    if (auto broken = CreateFilled(obj, size)) return *broken;
    if (::shm_unlink(obj.name.c_str()) != 0) return Verdict::Broken("shm_unlink");
    struct stat st = {};
    if (::fstat(obj.fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) != size) {
      return Verdict::Fail(
          absl::StrFormat("fstat of the unlinked object's descriptor: size %d, "
                          "expected %d",
                          st.st_size, size));
    }
    Mapping m = MapShared(obj.fd.get(), size);
    if (!m.ok())
      return Verdict::Fail(
          absl::StrCat("mmap of the unlinked object's descriptor: ", ErrnoName(errno)));
    if (std::string e = Mismatch(m.bytes(), size, 1, 0); !e.empty())
      return Verdict::Fail("the unlinked object's contents through a new mapping: " + e);
    if (::ftruncate(obj.fd.get(), static_cast<off_t>(resize)) != 0 ||
        ::fstat(obj.fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) != resize) {
      return Verdict::Fail(
          absl::StrFormat("ftruncate(%d) of the unlinked object's descriptor: %s, size now %d",
                          resize, ErrnoName(errno), st.st_size));
    }
    return Verdict::Pass();
  }

  const BytesParam size_{this, 0, "the object is %s", 4096, ShmSize()};
  const BytesParam resize_{this, 1, "it is then resized to %s", 4096, ShmSize()};
};
IPCSPEC_REGISTER_PROPERTY(UnlinkFdProperty, "SHM-UNLINK-FD", {.applies = ForPosix, .examples = 10});

}  // namespace shm_life_props
}  // namespace
}  // namespace ipcspec::props
