// SHM-* System V sizes, keys and addresses: the SHMMIN/SHMMAX bounds, a size
// fixed at creation, SHM_RND, lookup by key, and shmdt's EINVAL.
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/child_watch.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/shm_util.h"

namespace ipcspec::props {
namespace {
namespace shm_key_props {

uint64_t Lba() { return static_cast<uint64_t>(SHMLBA); }

// /proc/sys/kernel/shmmax of this IPC namespace, or 0.
uint64_t ShmMax() {
  std::ifstream in("/proc/sys/kernel/shmmax");
  uint64_t v = 0;
  return in >> v ? v : 0;
}

constexpr std::string_view kSizeClasses[] = {"0 bytes (below SHMMIN)", "above SHMMAX",
                                             "not a page multiple"};

class SizeBoundsProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int cls = class_.Of(s);
    const uint64_t extra = std::clamp<uint64_t>(extra_.Of(s), 1, Page() - 1);
    const uint64_t max = ShmMax();
    if (cls == 1 && (max == 0 || max > SIZE_MAX - extra))
      return Verdict::Unsupported("SHMMAX leaves no size above it");
    const size_t size = cls == 0 ? 0 : cls == 1 ? max + extra : Page() * (extra % 3) + extra;
    SysvId id(::shmget(IPC_PRIVATE, size, IPC_CREAT | 0600));
    if (cls < 2) {
      if (id || errno != EINVAL) {
        return Verdict::Fail(absl::StrFormat("shmget(IPC_CREAT) of %d bytes (%s) %s, not EINVAL",
                                             size, class_.Name(cls),
                                             id ? "succeeded" : ErrnoName(errno)));
      }
      return Verdict::Pass();
    }
    if (!id)
      return Verdict::Fail(absl::StrFormat("shmget of %d bytes: %s", size, ErrnoName(errno)));
    Mapping m = Attach(id.get());
    if (!m.ok()) return Verdict::Broken("shmat");
    const uint64_t last = (size + Page() - 1) / Page() * Page() - 1;
    const int st = TouchInChild([&] { m.bytes()[last] = 1; }, CaseDeadline(env));
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      return Verdict::Fail(absl::StrFormat(
          "the last byte of the page holding the end of a %d-byte segment is not usable: the "
          "process %s",
          size, st == -1 ? "did not end" : DescribeWaitStatus(st)));
    }
    return Verdict::Pass();
  }

  const ChoiceParam<int> class_{this, 0, "the size asked for is %s", 2, kSizeClasses};
  const BytesParam extra_{this, 1, "off a page boundary by %s", 1,
                          rc::gen::inRange<uint64_t>(1, Page())};
};
IPCSPEC_REGISTER_PROPERTY(SizeBoundsProperty, "SHM-SIZE-BOUNDS",
                          {.applies = ForSysv, .examples = 10});

class SizeFixedProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t size = std::max<uint64_t>(2, *ShmSize());
      return std::vector<Step>{size_.Step(size),
                               ask_.Step(*rc::gen::inRange<uint64_t>(0, 2 * size))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t size = std::max<uint64_t>(1, size_.Of(s)), ask = ask_.Of(s);
    const key_t key = FreshKey();
    SysvId id(::shmget(key, size, IPC_CREAT | IPC_EXCL | 0600));
    if (!id) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
    const int again = ::shmget(key, ask, 0600);
    if (ask <= size ? again != id.get() : (again >= 0 || errno != EINVAL)) {
      return Verdict::Fail(
          absl::StrFormat("looking up a %d-byte segment's key with size %d: %s, expected %s", size,
                          ask, again >= 0 ? absl::StrCat("id ", again) : ErrnoName(errno),
                          ask <= size ? absl::StrCat("id ", id.get()) : "EINVAL"));
    }
    struct shmid_ds ds = {};
    if (::shmctl(id.get(), IPC_STAT, &ds) != 0 || ds.shm_segsz != size)
      return Verdict::Fail(
          absl::StrFormat("after the lookup shm_segsz is %d, not %d", ds.shm_segsz, size));
    return Verdict::Pass();
  }

  const BytesParam size_{this, 0, "the segment is made with %s", 4096};
  const BytesParam ask_{this, 1, "its key is looked up with %s", 0};
};
IPCSPEC_REGISTER_PROPERTY(SizeFixedProperty, "SHM-SIZE-FIXED",
                          {.applies = ForSysv, .examples = 10});

class RndProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t lba = Lba(), off = std::clamp<uint64_t>(offset_.Of(s), 1, lba - 1);
    SysvId id(::shmget(IPC_PRIVATE, Page(), IPC_CREAT | 0600));
    if (!id) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
    // A free, SHMLBA-aligned address: where a probe mapping was.
    void* probe = ::mmap(nullptr, 3 * lba, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (probe == MAP_FAILED) return Verdict::Broken("probe mmap");
    auto* base =
        reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(probe) + lba) & ~(lba - 1));
    ::munmap(probe, 3 * lba);
    Mapping bad = Attach(id.get(), 0, base + off);
    if (bad.ok() || errno != EINVAL) {
      return Verdict::Fail(
          absl::StrFormat("shmat at %p (%d past SHMLBA) without SHM_RND %s, not "
                          "EINVAL",
                          base + off, off, bad.ok() ? "succeeded" : ErrnoName(errno)));
    }
    Mapping rnd = Attach(id.get(), SHM_RND, base + off);
    if (!rnd.ok() || rnd.bytes() != base) {
      return Verdict::Fail(
          absl::StrFormat("shmat at %p with SHM_RND gave %s, expected %p", base + off,
                          rnd.ok() ? absl::StrFormat("%p", rnd.bytes()) : ErrnoName(errno), base));
    }
    rnd.reset();
    Mapping exact = Attach(id.get(), 0, base);
    if (!exact.ok() || exact.bytes() != base) {
      return Verdict::Fail(
          absl::StrFormat("shmat at the free aligned address %p gave %s", base,
                          exact.ok() ? absl::StrFormat("%p", exact.bytes()) : ErrnoName(errno)));
    }
    return Verdict::Pass();
  }

  const BytesParam offset_{this, 0, "the address is %s past an SHMLBA boundary", 1,
                           rc::gen::inRange<uint64_t>(1, Lba())};
};
IPCSPEC_REGISTER_PROPERTY(RndProperty, "SHM-RND", {.applies = ForSysv, .examples = 10});

class KeyLookupProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    std::vector<key_t> keys;
    std::vector<std::unique_ptr<SysvId>> ids;
    for (int i = 0; i < std::max(1, keys_.Of(s)); ++i) {
      keys.push_back(FreshKey());
      ids.push_back(
          std::make_unique<SysvId>(::shmget(keys.back(), Page(), IPC_CREAT | IPC_EXCL | 0600)));
      if (!*ids.back()) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
    }
    const key_t missing = FreshKey();
    auto lookup = [&]() -> std::string {
      for (size_t i = 0; i < keys.size(); ++i) {
        if (int got = ::shmget(keys[i], 0, 0); got != ids[i]->get()) {
          return absl::StrFormat("looking up key %d gave %s, expected id %d", keys[i],
                                 got >= 0 ? absl::StrCat("id ", got) : ErrnoName(errno),
                                 ids[i]->get());
        }
      }
      const int none = ::shmget(missing, Page(), 0600);
      if (none >= 0 || errno != ENOENT) {
        SysvId stray(none);
        return absl::StrFormat("looking up a key with no segment gave %s, expected ENOENT",
                               none >= 0 ? absl::StrCat("id ", none) : ErrnoName(errno));
      }
      return "";
    };
    std::string failure = child_.Of(s) ? CheckInChild(lookup, CaseDeadline(env)) : lookup();
    if (!failure.empty() && child_.Of(s)) failure = "in another process: " + failure;
    if (!failure.empty()) return Verdict::Fail(failure);
    SysvId a(::shmget(IPC_PRIVATE, Page(), IPC_CREAT | 0600)),
        b(::shmget(IPC_PRIVATE, Page(), 0600));
    if (!a || !b || a.get() == b.get())
      return Verdict::Fail("two shmget(IPC_PRIVATE) calls did not make two segments");
    return Verdict::Pass();
  }

  const Param<int> keys_{this, 0, "%s keys have segments", 1, rc::gen::inRange(1, 5)};
  const YesNoParam child_{this, 1, "another process looks them up: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(KeyLookupProperty, "SHM-KEY-LOOKUP",
                          {.applies = ForSysv, .examples = 10});

constexpr std::string_view kBadAddresses[] = {
    "an address already detached", "an unaligned address inside the attach",
    "the start of a later page of the attach", "an address never attached"};

class DtEinvalProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    SysvId id(::shmget(IPC_PRIVATE, 2 * Page(), IPC_CREAT | 0600));
    if (!id) return Verdict::Broken(absl::StrCat("shmget: ", ErrnoName(errno)));
    std::vector<Mapping> attaches;
    for (int i = 0; i < std::max(1, attaches_.Of(s)); ++i) attaches.push_back(Attach(id.get()));
    Mapping probe(::mmap(nullptr, Page(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), Page());
    const int what = what_.Of(s);
    uint8_t* addr = attaches[0].bytes();
    if (what == 0) {
      addr = static_cast<uint8_t*>(attaches.back().release());
      if (::shmdt(addr) != 0) return Verdict::Broken("shmdt");
      attaches.pop_back();
    }
    if (what == 1) addr += 1;
    if (what == 2) addr += Page();
    if (what == 3) addr = probe.bytes();
    const int before = Nattch(id.get());
    const int r = ::shmdt(addr);
    if (r == 0 || errno != EINVAL) {
      return Verdict::Fail(absl::StrFormat("shmdt of %s %s, not EINVAL", what_.Name(what),
                                           r == 0 ? "succeeded" : ErrnoName(errno)));
    }
    if (const int after = Nattch(id.get()); after != before)
      return Verdict::Fail(
          absl::StrFormat("the refused shmdt changed shm_nattch from %d to %d", before, after));
    return Verdict::Pass();
  }

  const ChoiceParam<int> what_{this, 0, "shmdt is given %s", 0, kBadAddresses};
  const Param<int> attaches_{this, 1, "the segment has %s attaches", 1, rc::gen::inRange(1, 4)};
};
IPCSPEC_REGISTER_PROPERTY(DtEinvalProperty, "SHM-DT-EINVAL", {.applies = ForSysv, .examples = 10});

}  // namespace shm_key_props
}  // namespace
}  // namespace ipcspec::props
