// SHM-* System V attributes: the IPC_STAT fields, IPC_SET, and a SHM_RDONLY
// attach that mprotect cannot make writable. Sizes, keys and addresses are in
// shm_key_props.cc.
#include <fcntl.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/shm_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace shm_attr_props {

bool Within(time_t t, time_t lo, time_t hi) { return t >= lo && t <= hi; }

// The attacher's pid and the time windows of its shmat and shmdt.
struct AttachRecord {
  std::atomic<int64_t> pid, at_lo, at_hi, dt_lo, dt_hi;
};

// Attaches and detaches `id`, recording when and who.
bool AttachDetach(int id, AttachRecord* r) {
  r->pid = ::getpid();
  r->at_lo = ::time(nullptr);
  void* p = ::shmat(id, nullptr, SHM_RDONLY);
  r->at_hi = ::time(nullptr);
  if (p == reinterpret_cast<void*>(-1)) return false;
  r->dt_lo = ::time(nullptr);
  const int d = ::shmdt(p);
  r->dt_hi = ::time(nullptr);
  return d == 0;
}

class IpcStatProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      return std::vector<Step>{size_.Step(*ShmSize()),
                               mode_.Step(0600 | *rc::gen::inRange(0, 0100)),
                               child_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override;

  const BytesParam size_{this, 0, "the segment is %s", 4096};
  const Param<int> mode_{this, 1, "its mode is %s", 0600, SayMode};
  const Param<bool> child_{this, 2, "a forked child attaches and detaches: %s", false, SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(IpcStatProperty, "SHM-IPC-STAT", {.applies = ForSysv, .examples = 10});

Verdict IpcStatProperty::Run(const Transport&, const Scenario& s, const CaseEnv& env) const {
  const uint64_t size = std::max<uint64_t>(1, size_.Of(s));
  const int mode = mode_.Of(s) & 0777;
  const key_t key = FreshKey();
  const time_t c_lo = ::time(nullptr);
  SysvId id(::shmget(key, size, IPC_CREAT | IPC_EXCL | mode));
  const time_t c_hi = ::time(nullptr);
  if (!id) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
  struct shmid_ds ds = {};
  if (::shmctl(id.get(), IPC_STAT, &ds) != 0) return Verdict::Fail("IPC_STAT of a new segment");
  if (ds.shm_segsz != size || ds.shm_perm.__key != key ||
      static_cast<int>(ds.shm_perm.mode & 0777) != mode || ds.shm_cpid != ::getpid() ||
      ds.shm_lpid != 0 || ds.shm_atime != 0 || ds.shm_dtime != 0 ||
      !Within(ds.shm_ctime, c_lo, c_hi) || ds.shm_perm.uid != ::geteuid() ||
      ds.shm_perm.cuid != ::geteuid() || ds.shm_perm.gid != ::getegid() ||
      ds.shm_perm.cgid != ::getegid() || ds.shm_nattch != 0) {
    return Verdict::Fail(absl::StrFormat(
        "IPC_STAT of a new %d-byte segment (mode %s, by pid %d): segsz %d, key %d, mode 0%o, "
        "cpid %d, lpid %d, atime %d, dtime %d, ctime %d (made in [%d, %d]), uid %d/cuid %d, "
        "nattch %d",
        size, SayMode(mode), ::getpid(), ds.shm_segsz, ds.shm_perm.__key, ds.shm_perm.mode,
        ds.shm_cpid, ds.shm_lpid, ds.shm_atime, ds.shm_dtime, ds.shm_ctime, c_lo, c_hi,
        ds.shm_perm.uid, ds.shm_perm.cuid, ds.shm_nattch));
  }
  SharedMemory rec_mem(sizeof(AttachRecord));
  auto* rec = new (rec_mem.data()) AttachRecord{};
  if (child_.Of(s)) {
    const pid_t pid = ForkChild([&] { return AttachDetach(id.get(), rec) ? 0 : 1; });
    int status = 0;
    if (pid < 0 || !WaitChild(pid, 0, CaseDeadline(env), &status) || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      KillAndReap(pid);
      return Verdict::Broken("the attaching child failed");
    }
  } else if (!AttachDetach(id.get(), rec)) {
    return Verdict::Broken(absl::StrCat("shmat/shmdt: ", ErrnoName(errno)));
  }
  if (::shmctl(id.get(), IPC_STAT, &ds) != 0) return Verdict::Fail("IPC_STAT after shmat/shmdt");
  if (ds.shm_lpid != rec->pid || !Within(ds.shm_atime, rec->at_lo, rec->at_hi) ||
      !Within(ds.shm_dtime, rec->dt_lo, rec->dt_hi) || ds.shm_nattch != 0) {
    return Verdict::Fail(absl::StrFormat(
        "after pid %d attached in [%d, %d] and detached in [%d, %d]: IPC_STAT says lpid %d, "
        "atime %d, dtime %d, nattch %d",
        rec->pid.load(), rec->at_lo.load(), rec->at_hi.load(), rec->dt_lo.load(), rec->dt_hi.load(),
        ds.shm_lpid, ds.shm_atime, ds.shm_dtime, ds.shm_nattch));
  }
  return Verdict::Pass();
}

class IpcSetProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      return std::vector<Step>{mode_.Step(0400 | *rc::gen::inRange(0, 0200000)),
                               removed_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    SysvId id(::shmget(IPC_PRIVATE, Page(), IPC_CREAT | 0600));
    if (!id) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
    Mapping hold;
    if (removed_.Of(s)) {
      hold = Attach(id.get());
      if (!hold.ok() || ::shmctl(id.get(), IPC_RMID, nullptr) != 0)
        return Verdict::Broken("attach and IPC_RMID");
    }
    struct shmid_ds ds = {};
    if (::shmctl(id.get(), IPC_STAT, &ds) != 0) return Verdict::Broken("IPC_STAT");
    const unsigned short before = ds.shm_perm.mode;
    const int mode = mode_.Of(s) & 0xffff;
    ds.shm_perm.mode = static_cast<unsigned short>(mode);
    const time_t lo = ::time(nullptr);
    if (::shmctl(id.get(), IPC_SET, &ds) != 0)
      return Verdict::Fail(absl::StrCat("IPC_SET by the owner: ", ErrnoName(errno)));
    const time_t hi = ::time(nullptr);
    struct shmid_ds after = {};
    if (::shmctl(id.get(), IPC_STAT, &after) != 0) return Verdict::Broken("IPC_STAT");
    const unsigned short want = static_cast<unsigned short>((before & ~0777) | (mode & 0777));
    if (after.shm_perm.mode != want || !Within(after.shm_ctime, lo, hi) ||
        after.shm_perm.uid != ::geteuid()) {
      return Verdict::Fail(absl::StrFormat(
          "IPC_SET of mode %s on a segment with mode 0%o: IPC_STAT then says mode 0%o (expected "
          "0%o), ctime %d (set in [%d, %d]), uid %d",
          SayMode(mode), before, after.shm_perm.mode, want, after.shm_ctime, lo, hi,
          after.shm_perm.uid));
    }
    return Verdict::Pass();
  }

  const Param<int> mode_{this, 0, "IPC_SET asks for mode %s", 0640, SayMode};
  const Param<bool> removed_{this, 1, "the segment is already removed (SHM_DEST): %s", false,
                             SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(IpcSetProperty, "SHM-IPC-SET", {.applies = ForSysv, .examples = 10});

class RdonlyMprotectProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t len = std::max<uint64_t>(1, pages_.Of(s)) * Page();
    SysvId id(::shmget(IPC_PRIVATE, len, IPC_CREAT | 0600));
    if (!id) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
    const bool rdonly = rdonly_.Of(s);
    Mapping m = Attach(id.get(), rdonly ? SHM_RDONLY : 0);
    if (!m.ok()) return Verdict::Broken(absl::StrCat("shmat: ", ErrnoName(errno)));
    const Deadline deadline = CaseDeadline(env);
    auto write_dies = [&](std::string_view when) -> std::string {
      const int st = TouchInChild([&] { m.bytes()[len - 1] = 1; }, deadline);
      if (st != -1 && IsKilledBy(st, SIGSEGV)) return "";
      return absl::StrCat("a write ", std::string(when), ": the process ",
                          st == -1 ? "did not end" : DescribeWaitStatus(st), ", expected SIGSEGV");
    };
    if (rdonly) {
      if (m.bytes()[0] != 0) return Verdict::Fail("a new segment reads non-zero");
      if (std::string e = write_dies("through a SHM_RDONLY attach"); !e.empty())
        return Verdict::Fail(e);
      if (::mprotect(m.bytes(), len, PROT_READ | PROT_WRITE) == 0 || errno != EACCES) {
        return Verdict::Fail(absl::StrCat("mprotect(PROT_READ|PROT_WRITE) of a SHM_RDONLY attach ",
                                          errno == 0 ? "succeeded" : ErrnoName(errno),
                                          ", not EACCES"));
      }
      return PassUnless(write_dies("after the refused mprotect"));
    }
    if (::mprotect(m.bytes(), len, PROT_READ) != 0)
      return Verdict::Fail(
          absl::StrCat("mprotect(PROT_READ) of a read-write attach: ", ErrnoName(errno)));
    if (std::string e = write_dies("after mprotect(PROT_READ)"); !e.empty())
      return Verdict::Fail(e);
    if (::mprotect(m.bytes(), len, PROT_READ | PROT_WRITE) != 0) {
      return Verdict::Fail(
          absl::StrCat("raising a read-write attach back to PROT_WRITE: ", ErrnoName(errno)));
    }
    m.bytes()[len - 1] = 1;
    return Verdict::Pass();
  }

  const YesNoParam rdonly_{this, 0, "the attach is SHM_RDONLY: %s", false};
  const Param<uint64_t> pages_{
      this, 1, "the segment is %s long", 1, rc::gen::inRange<uint64_t>(1, 5), SayPages};
};
IPCSPEC_REGISTER_PROPERTY(RdonlyMprotectProperty, "SHM-RDONLY-MPROTECT",
                          {.applies = ForSysv, .examples = 10});

}  // namespace shm_attr_props
}  // namespace
}  // namespace ipcspec::props
