// SHM-* across fork: a MAP_PRIVATE mapping is copy-on-write (each side sees
// only its own writes after fork), an anonymous MAP_SHARED mapping is one
// object for parent, child and grandchild, and MADV_DONTFORK keeps a range
// out of the child entirely.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
namespace shm_cow_props {

constexpr std::string_view kPrivateKinds[] = {"an anonymous MAP_PRIVATE mapping",
                                              "a MAP_PRIVATE mapping of a shm_open object"};

// Offsets written after fork: parent at even slots, child at odd ones, so
// each has bytes the other never writes.
uint64_t Slot(uint64_t len, uint64_t i) { return (i * 7919 * 64) % len; }

class CowForkProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override;

  const ChoiceParam<bool> kind_{this, 0, "the mapping is %s", false, kPrivateKinds};
  const Param<uint64_t> pages_{this,    1, "it is %s long", 1, rc::gen::inRange<uint64_t>(1, 5),
                               SayPages};
  const Param<uint64_t> writes_{this, 2, "each side writes %s bytes after fork", 1,
                                rc::gen::inRange<uint64_t>(1, 17)};
  const YesNoParam child_first_{this, 3, "the child writes first: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(CowForkProperty, "SHM-COW-FORK", {.applies = ForPosix, .examples = 10});

// "" when every written slot of `p` holds what `mine` wrote and every slot the
// other side wrote still holds the pre-fork byte.
std::string CheckSlots(const uint8_t* p, uint64_t len, uint64_t writes, uint32_t mine) {
  for (uint64_t i = 0; i < 2 * writes; ++i) {
    const uint64_t at = Slot(len, i);
    const bool own = (i % 2) == (mine == 1 ? 0u : 1u);
    const uint8_t want = own ? static_cast<uint8_t>(0x80 | mine | (i << 2)) : PatternByte(1, 0, at);
    if (p[at] != want) {
      return absl::StrFormat("byte %d is 0x%02x, expected 0x%02x (%s)", at, p[at], want,
                             own ? "its own write" : "the pre-fork byte: the other side wrote it");
    }
  }
  return "";
}

void WriteSlots(uint8_t* p, uint64_t len, uint64_t writes, uint32_t mine) {
  for (uint64_t i = (mine == 1 ? 0 : 1); i < 2 * writes; i += 2)
    p[Slot(len, i)] = static_cast<uint8_t>(0x80 | mine | (i << 2));
}

Verdict CowForkProperty::Run(const Transport&, const Scenario& s, const CaseEnv& env) const {
  const uint64_t len = std::max<uint64_t>(1, pages_.Of(s)) * Page();
  const uint64_t writes = std::max<uint64_t>(1, writes_.Of(s));
  NamedObject obj;
  Mapping m;
  if (kind_.Of(s)) {
    if (!obj.Create(len)) return Verdict::Broken(absl::StrCat("shm_open: ", ErrnoName(errno)));
    m = Mapping(::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj.fd.get(), 0), len);
  } else {
    m = Mapping(::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                len);
  }
  if (!m.ok()) return Verdict::Broken(absl::StrCat("mmap: ", ErrnoName(errno)));
  Fill(m.bytes(), len, 1, 0);
  const Deadline deadline = CaseDeadline(env);
  SharedFlags flags(2);  // 0: the first writer wrote; 1: the second wrote
  const bool child_first = child_first_.Of(s);
  Participants ps(deadline);
  ps.Spawn("fork child", [&]() -> Verdict {
    if (!child_first && !flags.WaitFor(0, deadline)) return Verdict::Broken("never told");
    WriteSlots(m.bytes(), len, writes, 2);
    flags.Raise(child_first ? 0 : 1);
    if (child_first && !flags.WaitFor(1, deadline)) return Verdict::Broken("never told");
    return PassUnless(CheckSlots(m.bytes(), len, writes, 2),
                      "after both sides wrote, the child's view: ");
  });
  if (child_first && !flags.WaitFor(0, deadline)) return ps.Join();
  WriteSlots(m.bytes(), len, writes, 1);
  flags.Raise(child_first ? 1 : 0);
  if (!child_first && !flags.WaitFor(1, deadline)) return ps.Join();
  if (std::string e = CheckSlots(m.bytes(), len, writes, 1); !e.empty())
    return Verdict::Fail("after both sides wrote, the parent's view: " + e);
  return ps.Join();
}

class AnonSharedForkProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override;

  const Param<uint64_t> pages_{
      this, 0, "the mapping is %s long", 1, rc::gen::inRange<uint64_t>(1, 9), SayPages};
};
IPCSPEC_REGISTER_PROPERTY(AnonSharedForkProperty, "SHM-ANON-SHARED-FORK",
                          {.applies = ForPosix, .examples = 10});

Verdict AnonSharedForkProperty::Run(const Transport&, const Scenario& s, const CaseEnv& env) const {
  const uint64_t len = std::max<uint64_t>(1, pages_.Of(s)) * Page();
  const uint64_t third = len / 3;
  Mapping m(::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0), len);
  if (!m.ok()) return Verdict::Broken(absl::StrCat("mmap: ", ErrnoName(errno)));
  uint8_t* p = m.bytes();
  const Deadline deadline = CaseDeadline(env);
  SharedFlags flags(4);  // 0: parent wrote; 1: child wrote; 2: grandchild wrote; 3: child done
  Participants ps(deadline);
  ps.Spawn("child", [&]() -> Verdict {
    const RaiseOnExit done(flags, 3);
    SharedMemory text(256);
    const pid_t grandchild = ForkChild([&] {
      if (!flags.WaitFor(1, deadline)) return 2;
      std::string e = Mismatch(p, third, 1, 0);
      if (e.empty()) e = Mismatch(p + third, third, 2, 0);
      e.copy(static_cast<char*>(text.data()), text.size() - 1);
      if (!e.empty()) return 1;
      Fill(p + 2 * third, len - 2 * third, 3, 0);
      flags.Raise(2);
      return 0;
    });
    if (!flags.WaitFor(0, deadline)) return Verdict::Broken("never told");
    if (std::string e = Mismatch(p, third, 1, 0); !e.empty()) {
      KillAndReap(grandchild);
      return Verdict::Fail("the parent's write is not seen in the child: " + e);
    }
    Fill(p + third, third, 2, 0);
    flags.Raise(1);
    int status = 0;
    if (!flags.WaitFor(2, deadline) || !WaitChild(grandchild, 0, deadline, &status) ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      KillAndReap(grandchild);
      return Verdict::Fail(
          absl::StrCat("in the grandchild: ", static_cast<const char*>(text.data())));
    }
    return PassUnless(Mismatch(p + 2 * third, len - 2 * third, 3, 0),
                      "the grandchild's write is not seen in the child: ");
  });
  Fill(p, third, 1, 0);
  flags.Raise(0);
  if (!flags.WaitFor(3, deadline) || !flags.IsRaised(2)) return ps.Join();
  if (std::string e = Mismatch(p + third, third, 2, 0); !e.empty())
    return Verdict::Fail("the child's write is not seen in the parent: " + e);
  if (std::string e = Mismatch(p + 2 * third, len - 2 * third, 3, 0); !e.empty())
    return Verdict::Fail("the grandchild's write is not seen in the parent: " + e);
  return ps.Join();
}

// Exit codes of the SHM-DONTFORK probe child: 0, or 10 + the first wrong page.
constexpr int kProbeWrong = 10;

class DontforkProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t pages = *rc::gen::inRange<uint64_t>(2, 7);
      const uint64_t first = *rc::gen::inRange<uint64_t>(0, pages);
      return std::vector<Step>{shared_.Step(*rc::gen::arbitrary<bool>()), pages_.Step(pages),
                               first_.Step(first),
                               count_.Step(*rc::gen::inRange<uint64_t>(1, pages - first + 1)),
                               dofork_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override;

  const Param<bool> shared_{
      this, 0, "the mapping is %s", false, [](uint64_t v) {
        return std::string(v != 0 ? "a MAP_SHARED shm_open object" : "anonymous and private");
      }};
  const Param<uint64_t> pages_{this, 1, "it is %s long", 2, SayPages};
  const Param<uint64_t> first_{this, 2, "MADV_DONTFORK starts at page %s", 0};
  const Param<uint64_t> count_{this, 3, "and covers %s", 1, SayPages};
  const Param<bool> dofork_{this, 4, "MADV_DOFORK undoes it: %s", false, SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(DontforkProperty, "SHM-DONTFORK", {.applies = ForPosix, .examples = 10});

Verdict DontforkProperty::Run(const Transport&, const Scenario& s, const CaseEnv& env) const {
  const uint64_t pages = std::max<uint64_t>(2, pages_.Of(s)), len = pages * Page();
  const uint64_t first = std::min(first_.Of(s), pages - 1);
  const uint64_t count = std::clamp<uint64_t>(count_.Of(s), 1, pages - first);
  NamedObject obj;
  Mapping m;
  if (shared_.Of(s)) {
    if (obj.Create(len)) m = MapShared(obj.fd.get(), len);
  } else {
    m = Mapping(::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                len);
  }
  if (!m.ok()) return Verdict::Broken(absl::StrCat("mmap: ", ErrnoName(errno)));
  Fill(m.bytes(), len, 1, 0);
  if (::madvise(m.bytes() + 1, Page(), MADV_DONTFORK) == 0 || errno != EINVAL)
    return Verdict::Fail("madvise(MADV_DONTFORK) at an unaligned address did not fail with EINVAL");
  if (::madvise(m.bytes(), 0, MADV_DONTFORK) != 0)
    return Verdict::Fail(absl::StrCat("madvise(MADV_DONTFORK) of length 0: ", ErrnoName(errno)));
  uint8_t* range = m.bytes() + first * Page();
  if (::madvise(range, count * Page(), MADV_DONTFORK) != 0)
    return Verdict::Broken(absl::StrCat("madvise(MADV_DONTFORK): ", ErrnoName(errno)));
  const bool dofork = dofork_.Of(s);
  if (dofork && ::madvise(range, count * Page(), MADV_DOFORK) != 0)
    return Verdict::Broken(absl::StrCat("madvise(MADV_DOFORK): ", ErrnoName(errno)));
  const Deadline deadline = CaseDeadline(env);
  const int probe = TouchInChild(
      [&] {
        for (uint64_t pg = 0; pg < pages; ++pg) {
          unsigned char vec = 0;
          const bool excluded = !dofork && pg >= first && pg < first + count;
          const bool mapped = ::mincore(m.bytes() + pg * Page(), Page(), &vec) == 0;
          if (mapped == excluded ||
              (mapped && m.bytes()[pg * Page()] != PatternByte(1, 0, pg * Page()))) {
            ::_exit(kProbeWrong + static_cast<int>(pg));
          }
        }
      },
      deadline);
  if (probe == -1 || !WIFEXITED(probe) || WEXITSTATUS(probe) != 0) {
    const int pg = probe != -1 && WIFEXITED(probe) ? WEXITSTATUS(probe) - kProbeWrong : -1;
    return Verdict::Fail(absl::StrFormat(
        "in a fork child after MADV_DONTFORK on pages %d..%d%s: page %d is %s", first,
        first + count - 1, dofork ? " and MADV_DOFORK" : "", pg,
        pg >= static_cast<int>(first) && pg < static_cast<int>(first + count) && !dofork
            ? "still mapped"
            : "missing or wrong"));
  }
  if (!dofork) {
    const int touch = TouchInChild([&] { range[0] = 1; }, deadline);
    if (touch == -1 || !IsKilledBy(touch, SIGSEGV)) {
      return Verdict::Fail(absl::StrCat("a fork child's write to a MADV_DONTFORK page: the child ",
                                        touch == -1 ? "did not end" : DescribeWaitStatus(touch),
                                        ", expected SIGSEGV"));
    }
  }
  return PassUnless(Mismatch(m.bytes(), len, 1, 0), "the parent's own mapping changed: ");
}

}  // namespace shm_cow_props
}  // namespace
}  // namespace ipcspec::props
