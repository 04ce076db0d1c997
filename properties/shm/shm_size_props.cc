// SHM-* size: ftruncate grows and shrinks a mapped POSIX object for every
// opener; a touch of a page wholly beyond the end raises SIGBUS (not SIGSEGV)
// while the page holding the end reads zeros past it; new and regrown bytes
// are zero; mremap of a shared mapping keeps it shared, and mremap with an
// old size of 0 makes a second view of the same pages.
#include <fcntl.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/send_steps.h"
#include "properties/support/shm_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace shm_size_props {

uint64_t PagesFor(uint64_t n) { return (n + Page() - 1) / Page(); }

rc::Gen<uint64_t> ResizeTarget() {
  const uint64_t page = Page();
  return rc::gen::oneOf(
      rc::gen::elementOf(std::vector<uint64_t>{0, 1, page - 1, page, page + 1, 3 * page}),
      rc::gen::inRange<uint64_t>(0, 8 * page));
}

class ResizeProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return SendSteps(1, 7, ResizeTarget());
  }
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kSend) return absl::StrFormat("ftruncate to %d bytes", s.size);
    return NamedProperty::DescribeStep(s);
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override;
};
IPCSPEC_REGISTER_PROPERTY(ResizeProperty, "SHM-RESIZE", {.applies = ForPosix, .examples = 10});

Verdict ResizeProperty::Run(const Transport&, const Scenario& s, const CaseEnv& env) const {
  std::vector<uint64_t> sizes;
  for (const Step& st : s.steps) {
    if (st.op == Op::kSend) sizes.push_back(st.size);
  }
  if (sizes.empty()) sizes.push_back(Page());
  const uint64_t maplen =
      PagesFor(std::max<uint64_t>(1, *std::max_element(sizes.begin(), sizes.end()))) * Page();
  NamedObject obj;
  Mapping mine;
  if (auto broken = CreateMapped(obj, sizes[0], mine, maplen)) return *broken;
  const Deadline deadline = CaseDeadline(env);
  SharedFlags flags(2 * sizes.size() + 1);  // 0: other mapped; 1+2i: size i written; 2+2i: seen
  Participants ps(deadline);
  ps.Spawn("other process", [&]() -> Verdict {
    // Whatever happens, nobody waits for this process's later steps in vain.
    const absl::Cleanup release = [&] {
      for (size_t i = 0; i < sizes.size(); ++i) flags.Raise(2 + 2 * i);
    };
    FileDescriptor fd(obj.Reopen(O_RDWR));
    Mapping other = fd ? MapShared(fd.get(), maplen) : Mapping();
    if (!other.ok()) return Verdict::Broken(absl::StrCat("mmap: ", ErrnoName(errno)));
    flags.Raise(0);
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (!flags.WaitFor(1 + 2 * i, deadline)) return Verdict::Broken("never told");
      if (std::string e = Mismatch(other.bytes(), sizes[i], 1, i); !e.empty()) {
        return Verdict::Fail(absl::StrFormat(
            "its mapping, made before, after the resize to %d bytes and the write: %s", sizes[i],
            e));
      }
      flags.Raise(2 + 2 * i);
    }
    return Verdict::Pass();
  });
  if (!flags.WaitFor(0, deadline)) return Verdict::Broken("the other process never mapped");
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0 && ::ftruncate(obj.fd.get(), static_cast<off_t>(sizes[i])) != 0)
      return Verdict::Fail(absl::StrFormat("ftruncate(%d): %s", sizes[i], ErrnoName(errno)));
    struct stat st = {};
    if (::fstat(obj.fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) != sizes[i]) {
      return Verdict::Fail(
          absl::StrFormat("after ftruncate(%d) fstat says %d bytes", sizes[i], st.st_size));
    }
    if (i > 0) {
      if (std::string e = Mismatch(mine.bytes(), std::min(sizes[i - 1], sizes[i]), 1, i - 1);
          !e.empty()) {
        return Verdict::Fail(absl::StrFormat("resizing from %d to %d bytes lost data: %s",
                                             sizes[i - 1], sizes[i], e));
      }
    }
    Fill(mine.bytes(), sizes[i], 1, i);
    flags.Raise(1 + 2 * i);
    if (!flags.WaitFor(2 + 2 * i, deadline)) return ps.Join();
  }
  return ps.Join();
}

class SigbusProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t extra = *rc::gen::inRange<uint64_t>(1, 5);
      return std::vector<Step>{
          size_.Step(*rc::gen::inRange<uint64_t>(1, 3 * Page())), extra_.Step(extra),
          at_.Step(*rc::gen::inRange<uint64_t>(0, extra * Page())),
          write_.Step(*rc::gen::arbitrary<bool>()), shrink_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t size = std::max<uint64_t>(1, size_.Of(s)),
                   extra = std::max<uint64_t>(1, extra_.Of(s));
    const uint64_t data_pages = PagesFor(size), maplen = (data_pages + extra) * Page();
    NamedObject obj;
    if (!obj.Create(shrink_.Of(s) ? maplen : size))
      return Verdict::Broken(absl::StrCat("shm_open: ", ErrnoName(errno)));
    Mapping m = MapShared(obj.fd.get(), maplen);
    if (!m.ok()) return Verdict::Broken("mmap");
    if (shrink_.Of(s) && ::ftruncate(obj.fd.get(), static_cast<off_t>(size)) != 0)
      return Verdict::Broken("ftruncate");
    volatile uint8_t* target = m.bytes() + data_pages * Page() + at_.Of(s) % (extra * Page());
    const bool write = write_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    const int status = TouchInChild(
        [&] {
          if (write) {
            *target = 1;
          } else {
            (void)*target;
          }
        },
        deadline);
    const std::string what =
        absl::StrFormat("a %s %d bytes past the end of a %d-byte object mapped over %d bytes%s",
                        write ? "write" : "read", target - (m.bytes() + size), size, maplen,
                        shrink_.Of(s) ? " (shrunk after mapping)" : "");
    if (status == -1 || !IsKilledBy(status, SIGBUS)) {
      return Verdict::Fail(absl::StrCat(what, ": the process ",
                                        status == -1 ? "did not end" : DescribeWaitStatus(status),
                                        ", expected killed by SIGBUS"));
    }
    const int after = TouchInChild([&] { m.bytes()[size - 1] = 7; }, deadline);
    if (after == -1 || !WIFEXITED(after) || WEXITSTATUS(after) != 0) {
      return Verdict::Fail(
          absl::StrCat("the last byte of the object itself is not usable: the "
                       "process ",
                       DescribeWaitStatus(after)));
    }
    return Verdict::Pass();
  }

  const BytesParam size_{this, 0, "the object is %s", 100};
  const Param<uint64_t> extra_{this, 1, "the mapping reaches %s past the object", 1, SayPages};
  const BytesParam at_{this, 2, "the touch is %s into those pages", 0};
  const Param<bool> write_{this, 3, "the touch is a write: %s", false, SayYesNo};
  const Param<bool> shrink_{this, 4, "the object is shrunk after mapping: %s", false, SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(SigbusProperty, "SHM-SIGBUS", {.applies = ForPosix, .examples = 10});

// Exit codes of the SHM-PARTIAL-PAGE child.
enum PartialExit { kPartialOk, kPartialNotZero = 3 };

class PartialPageProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t tail = *rc::gen::inRange<uint64_t>(1, Page());
      return std::vector<Step>{whole_.Step(*rc::gen::inRange<uint64_t>(0, 3)), tail_.Step(tail),
                               at_.Step(*rc::gen::inRange<uint64_t>(0, Page() - tail))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t tail = std::clamp<uint64_t>(tail_.Of(s), 1, Page() - 1);
    const uint64_t size = whole_.Of(s) * Page() + tail, pageend = PagesFor(size) * Page();
    NamedObject obj;
    Mapping m;
    if (auto broken = CreateMapped(obj, size, m, pageend)) return *broken;
    Fill(m.bytes(), size, 1, 0);
    const uint64_t at = size + at_.Of(s) % (pageend - size);
    const int status = TouchInChild(
        [&] {
          if (!NotZero(m.bytes() + size, pageend - size).empty()) ::_exit(kPartialNotZero);
          m.bytes()[at] = 0x5a;
        },
        CaseDeadline(env));
    if (status == -1 || !WIFEXITED(status)) {
      return Verdict::Fail(
          absl::StrFormat("touching byte %d of a %d-byte object (its last page) : the process %s",
                          at, size, status == -1 ? "did not end" : DescribeWaitStatus(status)));
    }
    if (WEXITSTATUS(status) == kPartialNotZero) {
      return Verdict::Fail(absl::StrFormat(
          "the bytes past the end of a %d-byte object in its last page are not zero: %s", size,
          NotZero(m.bytes() + size, pageend - size)));
    }
    struct stat st = {};
    if (::fstat(obj.fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) != size)
      return Verdict::Fail(
          absl::StrFormat("after writing past the end, st_size is %d, not %d", st.st_size, size));
    char c;
    if (ssize_t n = ::pread(obj.fd.get(), &c, 1, static_cast<off_t>(size)); n != 0) {
      return Verdict::Fail(absl::StrFormat(
          "after writing past the end through the mapping, pread at the end returned %d", n));
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> whole_{this, 0, "the object has %s before its last page", 0, SayPages};
  const BytesParam tail_{this, 1, "its last page holds %s", 100};
  const BytesParam at_{this, 2, "the touch is %s past the end", 0};
};
IPCSPEC_REGISTER_PROPERTY(PartialPageProperty, "SHM-PARTIAL-PAGE",
                          {.applies = ForPosix, .examples = 10});

class ZeroFillProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t size = *ShmSize();
      const uint64_t shrink = *rc::gen::inRange<uint64_t>(0, size + 1);
      return std::vector<Step>{size_.Step(size), shrink_.Step(shrink),
                               grow_.Step(shrink + *rc::gen::inRange<uint64_t>(1, 4 * Page()))};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv&) const override {
    const uint64_t size = std::max<uint64_t>(1, size_.Of(s));
    if (IsSysv(t)) {
      SysvId id(::shmget(IPC_PRIVATE, size, IPC_CREAT | 0600));
      Mapping m = id ? Attach(id.get()) : Mapping();
      if (!m.ok()) return Verdict::Broken(absl::StrCat("shmget/shmat: ", ErrnoName(errno)));
      if (std::string e = NotZero(m.bytes(), PagesFor(size) * Page()); !e.empty())
        return Verdict::Fail(absl::StrFormat("a new %d-byte segment: %s", size, e));
      return Verdict::Pass();
    }
    const uint64_t shrink = std::min(shrink_.Of(s), size);
    const uint64_t grow = std::max(grow_.Of(s), shrink + 1);
    NamedObject obj;
    Mapping m;
    if (auto broken = CreateMapped(obj, size, m, PagesFor(std::max(size, grow)) * Page())) {
      return *broken;
    }
    Fill(m.bytes(), size, 1, 0);
    if (::ftruncate(obj.fd.get(), static_cast<off_t>(shrink)) != 0 ||
        ::ftruncate(obj.fd.get(), static_cast<off_t>(grow)) != 0) {
      return Verdict::Broken(absl::StrCat("ftruncate: ", ErrnoName(errno)));
    }
    const std::string what =
        absl::StrFormat("a %d-byte object shrunk to %d and grown to %d bytes", size, shrink, grow);
    if (std::string e = Mismatch(m.bytes(), shrink, 1, 0); !e.empty())
      return Verdict::Fail(absl::StrCat(what, ": below the shrink ", e));
    if (std::string e = NotZero(m.bytes() + shrink, grow - shrink); !e.empty())
      return Verdict::Fail(absl::StrCat(what, ": from the shrink on, ", e));
    return Verdict::Pass();
  }

  const BytesParam size_{this, 0, "the segment is %s", 4096};
  const BytesParam shrink_{this, 1, "a POSIX object is shrunk to %s", 0};
  const BytesParam grow_{this, 2, "and grown again to %s", 4096};
};
IPCSPEC_REGISTER_PROPERTY(ZeroFillProperty, "SHM-ZERO-FILL", {.applies = ForShm, .examples = 10});

constexpr std::string_view kMremapKinds[] = {"a shm_open object mapping",
                                             "an anonymous shared mapping inherited by fork"};

class MremapMoveProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t old_pages = *rc::gen::inRange<uint64_t>(1, 5);
      return std::vector<Step>{kind_.Step(*rc::gen::arbitrary<bool>()), old_.Step(old_pages),
                               grow_.Step(*rc::gen::inRange<uint64_t>(1, 5))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override;

  const ChoiceParam<bool> kind_{this, 0, "the mapping is %s", false, kMremapKinds};
  const Param<uint64_t> old_{this, 1, "it is %s long", 1, SayPages};
  const Param<uint64_t> grow_{this, 2, "it grows by %s", 1, SayPages};
};
IPCSPEC_REGISTER_PROPERTY(MremapMoveProperty, "SHM-MREMAP-MOVE",
                          {.applies = ForPosix, .examples = 10});

Verdict MremapMoveProperty::Run(const Transport&, const Scenario& s, const CaseEnv& env) const {
  const bool anon = kind_.Of(s);
  const uint64_t old_len = std::max<uint64_t>(1, old_.Of(s)) * Page();
  const uint64_t new_len = old_len + std::max<uint64_t>(1, grow_.Of(s)) * Page();
  NamedObject obj;
  Mapping m;
  if (anon) {
    m = Mapping(::mmap(nullptr, old_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
                old_len);
  } else if (obj.Create(new_len)) {
    m = MapShared(obj.fd.get(), old_len);
  }
  if (!m.ok()) return Verdict::Broken(absl::StrCat("mapping: ", ErrnoName(errno)));
  // A page right after the mapping, so that growing it has to move it.
  Mapping blocker(::mmap(m.bytes() + old_len, Page(), PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
                  Page());
  const Deadline deadline = CaseDeadline(env);
  SharedFlags flags(3);  // 0: other ready; 1: written at the new address; 2: answered
  Participants ps(deadline);
  uint8_t* inherited = m.bytes();
  ps.Spawn("other process", [&]() -> Verdict {
    const RaiseOnExit done(flags, 2);
    FileDescriptor fd(anon ? -1 : obj.Reopen(O_RDWR));
    Mapping own = anon ? Mapping() : MapShared(fd.get(), old_len);
    uint8_t* view = anon ? inherited : own.bytes();
    if (view == nullptr) return Verdict::Broken("mapping the object");
    flags.Raise(0);
    if (!flags.WaitFor(1, deadline)) return Verdict::Broken("never told");
    if (std::string e = Mismatch(view, old_len, 1, 0); !e.empty())
      return Verdict::Fail("a write at the moved mapping's new address is not seen here: " + e);
    Fill(view, old_len, 2, 0);
    return Verdict::Pass();
  });
  if (!flags.WaitFor(0, deadline)) return Verdict::Broken("the other process never mapped");
  void* old_addr = m.bytes();
  void* moved = ::mremap(old_addr, old_len, new_len, MREMAP_MAYMOVE);
  if (moved == MAP_FAILED)
    return Verdict::Fail(absl::StrCat("mremap(MREMAP_MAYMOVE): ", ErrnoName(errno)));
  m.release();
  Mapping now(moved, new_len);
  if (moved == old_addr)
    return Verdict::Unsupported("the mapping grew in place despite the blocker");
  unsigned char vec = 0;
  if (::mincore(old_addr, Page(), &vec) == 0 || errno != ENOMEM)
    return Verdict::Fail("after mremap moved the mapping, its old address is still mapped");
  Fill(now.bytes(), old_len, 1, 0);
  flags.Raise(1);
  if (Verdict v = (flags.WaitFor(2, deadline), ps.Join()); !v.ok()) return v;
  return PassUnless(Mismatch(now.bytes(), old_len, 2, 0),
                    "the other process's write is not seen at the new address: ");
}

class MremapAliasProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t len = std::max<uint64_t>(1, pages_.Of(s)) * Page();
    NamedObject obj;
    if (!obj.Create(len)) return Verdict::Broken(absl::StrCat("shm_open: ", ErrnoName(errno)));
    const bool priv = private_.Of(s);
    Mapping m(::mmap(nullptr, len, PROT_READ | PROT_WRITE, priv ? MAP_PRIVATE : MAP_SHARED,
                     obj.fd.get(), 0),
              len);
    if (!m.ok()) return Verdict::Broken("mmap");
    void* in_place = ::mremap(m.bytes(), 0, len, 0);
    if (in_place != MAP_FAILED) {
      Mapping stray(in_place, len);
      return Verdict::Fail("mremap with old size 0 and no MREMAP_MAYMOVE succeeded");
    }
    void* alias = ::mremap(m.bytes(), 0, len, MREMAP_MAYMOVE);
    if (priv) {
      if (alias != MAP_FAILED) {
        Mapping stray(alias, len);
        return Verdict::Fail("mremap with old size 0 of a MAP_PRIVATE mapping succeeded");
      }
      return errno == EINVAL ? Verdict::Pass()
                             : Verdict::Fail(absl::StrCat("mremap with old size 0 of a private "
                                                          "mapping: ",
                                                          ErrnoName(errno), ", not EINVAL"));
    }
    if (alias == MAP_FAILED)
      return Verdict::Fail(absl::StrCat("mremap(old size 0, MREMAP_MAYMOVE): ", ErrnoName(errno)));
    Mapping second(alias, len);
    Fill(m.bytes(), len, 1, 0);
    if (std::string e = Mismatch(second.bytes(), len, 1, 0); !e.empty())
      return Verdict::Fail("a write through the first view is not in the second: " + e);
    Fill(second.bytes(), len, 2, 0);
    return PassUnless(Mismatch(m.bytes(), len, 2, 0),
                      "a write through the second view is not in the first: ");
  }

  const Param<uint64_t> pages_{
      this, 0, "the mapping is %s long", 1, rc::gen::inRange<uint64_t>(1, 5), SayPages};
  const YesNoParam private_{this, 1, "the mapping is MAP_PRIVATE: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(MremapAliasProperty, "SHM-MREMAP-ALIAS",
                          {.applies = ForPosix, .examples = 10});

}  // namespace shm_size_props
}  // namespace
}  // namespace ipcspec::props
