// PIPE-* capacity rules: EAGAIN on a full non-blocking pipe, a partial
// non-blocking write of exactly the room left, and F_SETPIPE_SZ: the size it
// sets and reports, its rounding, EINVAL above 2^31 and EPERM above
// /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE. For "pipe" and
// "fifo"; the pipe is made through MechHooks.
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/pipe_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace pipe_capacity_props {

std::string SayPagesOrDefault(uint64_t v) {
  return v == 0 ? "the default" : absl::StrCat(v, v == 1 ? " page" : " pages");
}
std::string SayWholePages(uint64_t v) {
  return v == 0 ? "nothing" : absl::StrCat(v, v == 1 ? " whole page" : " whole pages");
}
std::string SayEnd(uint64_t v) { return v != 0 ? "the write end" : "the read end"; }
std::string SayHex(uint64_t v) { return absl::StrFormat("0x%x", v); }

// /proc/sys/fs/pipe-max-size, or 0 when unreadable.
long PipeMaxSize() {
  std::ifstream in("/proc/sys/fs/pipe-max-size");
  long v = 0;
  return in >> v ? v : 0;
}

// Whether this process has CAP_SYS_RESOURCE in its effective set.
bool HasSysResource() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      return ((std::stoull(line.substr(7), nullptr, 16) >> CAP_SYS_RESOURCE) & 1) != 0;
    }
  }
  return false;
}

class FullProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t c = *rc::gen::oneOf(rc::gen::elementOf(std::vector<uint64_t>{
                                             1, 7, 4095, 4096, PIPE_BUF, PIPE_BUF + 1, 65536}),
                                         rc::gen::inRange<uint64_t>(1, 3 * PIPE_BUF));
      return std::vector<Step>{write_.Step(c),
                               pages_.Step(*rc::gen::elementOf(std::vector<int>{0, 1, 2, 4}))};
    });
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    const size_t c = std::max<uint64_t>(1, write_.Of(s));
    const int pages = pages_.Of(s);
    if (pages > 0 && ::fcntl(p.w.get(), F_SETPIPE_SZ, pages * PageSize()) < 0) {
      return Verdict::Broken(absl::StrCat("F_SETPIPE_SZ: ", ErrnoName(errno)));
    }
    const long cap = PipeCapacity(p.w.get());
    if (cap <= 0) return Verdict::Broken("F_GETPIPE_SZ");
    SetNonBlocking(p.w.get(), true);
    SetNonBlocking(p.r.get(), true);
    char b;
    if (ssize_t n = ::read(p.r.get(), &b, 1); n >= 0 || errno != EAGAIN) {
      return Verdict::Fail(
          absl::StrCat("non-blocking read of the empty pipe ", Said(n, errno), ", not EAGAIN"));
    }
    std::vector<std::byte> sent;
    for (uint64_t i = 0;; ++i) {
      const std::vector<std::byte> d = PipeBytes(100 + i, c);
      ssize_t n = ::write(p.w.get(), d.data(), c);
      if (n < 0) {
        if (errno != EAGAIN) return Verdict::Fail(absl::StrCat("write: ", ErrnoName(errno)));
        break;
      }
      if (n == 0 || (c <= PIPE_BUF && static_cast<size_t>(n) != c)) {
        return Verdict::Fail(
            absl::StrFormat("non-blocking write of %d <= PIPE_BUF bytes wrote %d", c, n));
      }
      sent.insert(sent.end(), d.begin(), d.begin() + n);
      if (static_cast<long>(sent.size()) > cap) break;
    }
    const long total = static_cast<long>(sent.size());
    if (total > cap || total < cap / 2) {
      return Verdict::Fail(absl::StrFormat(
          "EAGAIN came after %d bytes in %d-byte writes; capacity is %d", total, c, cap));
    }
    const std::vector<std::byte> again = PipeBytes(999, c);
    if (ssize_t n = ::write(p.w.get(), again.data(), c); n >= 0 || errno != EAGAIN) {
      return Verdict::Fail(
          absl::StrCat("second write to the full pipe ", Said(n, errno), ", not EAGAIN"));
    }
    if (BytesQueued(p.r.get()) != total)
      return Verdict::Fail("the refused write changed the queued byte count");
    if (std::string e = ExpectExactly(p.r.get(), sent, "after filling"); !e.empty())
      return Verdict::Fail(e);
    const std::vector<std::byte> resume = PipeBytes(1000, std::min<size_t>(c, cap));
    if (ssize_t n = ::write(p.w.get(), resume.data(), resume.size());
        n != static_cast<ssize_t>(resume.size())) {
      return Verdict::Fail(absl::StrCat("after draining, the write ", Said(n, errno)));
    }
    return Verdict::Pass();
  }

  const BytesParam write_{this, 0, "each non-blocking write is %s", 100};
  const Param<int> pages_{this, 1, "the capacity is %s", 0, SayPagesOrDefault};
};
IPCSPEC_REGISTER_PROPERTY(FullProperty, "PIPE-EAGAIN", {.applies = ForPipeOrFifo, .examples = 20});

class PartialProperty final : public PipeProperty {
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    const long cap = p.capacity;
    if (cap <= 0) return Verdict::Broken("F_GETPIPE_SZ");
    const long page = PageSize();
    // Whole pages queued first, so the room left is a whole number of slots.
    const long prefill = std::min<long>(prefill_.Of(s), cap / page - 1) * page;
    const std::vector<std::byte> pre = PipeBytes(5, prefill);
    if (WriteFull(p.w.get(), pre.data(), pre.size()) < 0) return Verdict::Broken("write");
    const long room = cap - prefill;
    const size_t n = room + std::max<uint64_t>(1, over_.Of(s));
    SetNonBlocking(p.w.get(), true);
    const std::vector<std::byte> big = PipeBytes(6, n);
    ssize_t w = ::write(p.w.get(), big.data(), n);
    if (w != room) {
      return Verdict::Fail(absl::StrFormat(
          "non-blocking write of %d bytes into a %d-byte pipe holding %d bytes %s, expected "
          "exactly the %d bytes of room",
          n, cap, prefill, Said(w, errno), room));
    }
    std::vector<std::byte> want = pre;
    want.insert(want.end(), big.begin(), big.begin() + w);
    return PassUnless(ExpectExactly(p.r.get(), want, "after the partial write"));
  }

  const BytesParam over_{this, 0, "the write is %s more than the room left", 1,
                         rc::gen::inRange<uint64_t>(1, 2 * PIPE_BUF)};
  const Param<uint64_t> prefill_{
      this, 1, "the pipe holds %s first", 0, rc::gen::inRange<uint64_t>(0, 8), SayWholePages};
};
IPCSPEC_REGISTER_PROPERTY(PartialProperty, "PIPE-PARTIAL",
                          {.applies = ForPipeOrFifo, .examples = 20});

class SetSizeProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t req = *rc::gen::oneOf(
          rc::gen::elementOf(std::vector<uint64_t>{1, 4096, 4097, 8192, 65536, 65537, 1u << 20}),
          rc::gen::inRange<uint64_t>(1, 1u << 19));
      return std::vector<Step>{request_.Step(req)};
    });
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    const long req = static_cast<long>(request_.Of(s));
    const int got = ::fcntl(p.w.get(), F_SETPIPE_SZ, static_cast<int>(req));
    if (got < 0) {
      if (errno == EPERM) {
        return Verdict::Unsupported(absl::StrFormat(
            "F_SETPIPE_SZ(%d): EPERM (fs.pipe-max-size or the per-user pipe page limit)", req));
      }
      return Verdict::Fail(absl::StrFormat("F_SETPIPE_SZ(%d): %s", req, ErrnoName(errno)));
    }
    if (got < req)
      return Verdict::Fail(absl::StrFormat("F_SETPIPE_SZ(%d) returned the smaller %d", req, got));
    for (int fd : {p.r.get(), p.w.get()}) {
      if (long c = PipeCapacity(fd); c != got) {
        return Verdict::Fail(
            absl::StrFormat("F_SETPIPE_SZ returned %d but F_GETPIPE_SZ says %d", got, c));
      }
    }
    SetNonBlocking(p.w.get(), true);
    const long filled = FillNonBlocking(p.w.get(), PageSize());
    if (filled != got) {
      return Verdict::Fail(absl::StrFormat(
          "capacity set to %d (asked %d) but page writes filled %d bytes", got, req, filled));
    }
    if (got > PageSize()) {
      int r = ::fcntl(p.w.get(), F_SETPIPE_SZ, static_cast<int>(PageSize()));
      if (r >= 0 || errno != EBUSY) {
        return Verdict::Fail(absl::StrCat("shrinking a full pipe below its content ",
                                          Said(r, errno), ", not EBUSY"));
      }
      if (PipeCapacity(p.w.get()) != got)
        return Verdict::Fail("a refused shrink changed the capacity");
    }
    return Verdict::Pass();
  }

  const BytesParam request_{this, 0, "F_SETPIPE_SZ asks for %s", 8192};
};
IPCSPEC_REGISTER_PROPERTY(SetSizeProperty, "PIPE-SETPIPE-SZ",
                          {.applies = ForPipeOrFifo, .examples = 20});

class SetSizeEinvalProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t low = *rc::gen::oneOf(
          rc::gen::elementOf(std::vector<uint64_t>{(1ULL << 31) + 1, 0xffffffffULL}),
          rc::gen::inRange<uint64_t>((1ULL << 31) + 1, 1ULL << 32));
      const uint64_t high =
          *rc::gen::oneOf(rc::gen::just<uint64_t>(0), rc::gen::inRange<uint64_t>(0, 0x7fffffffULL));
      return std::vector<Step>{size_.Step((high << 32) | low),
                               end_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    const long before = p.capacity;
    const long arg = static_cast<long>(size_.Of(s));
    const int fd = end_.Of(s) ? p.w.get() : p.r.get();
    const int r = ::fcntl(fd, F_SETPIPE_SZ, arg);
    if (r >= 0 || errno != EINVAL) {
      return Verdict::Fail(absl::StrFormat("F_SETPIPE_SZ(0x%x) on %s %s, not EINVAL", arg,
                                           SayEnd(end_.Of(s)), Said(r, errno)));
    }
    if (long now = PipeCapacity(p.r.get()); now != before) {
      return Verdict::Fail(absl::StrFormat(
          "the refused F_SETPIPE_SZ changed the capacity from %d to %d", before, now));
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> size_{this, 0, "F_SETPIPE_SZ asks for %s", (1ULL << 31) + 1, SayHex};
  const Param<bool> end_{this, 1, "it is called on %s", true, SayEnd};
};
IPCSPEC_REGISTER_PROPERTY(SetSizeEinvalProperty, "PIPE-SETPIPE-SZ-EINVAL",
                          {.applies = ForPipeOrFifo, .examples = 10});

class SetSizeEpermProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const long max = PipeMaxSize();
    if (max <= 0) return Verdict::Unsupported("/proc/sys/fs/pipe-max-size is not readable");
    const long want = max + static_cast<long>(over_.Of(s));
    if (want > (1L << 31)) return Verdict::Unsupported("pipe-max-size is too close to 2^31");
    PipeFds p;
    Verdict broken;
    if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
    const int fd = end_.Of(s) ? p.w.get() : p.r.get();
    const long before = p.capacity;
    const bool privileged = HasSysResource();
    const int r = ::fcntl(fd, F_SETPIPE_SZ, want);
    if (privileged) {
      if (r < want) {
        return Verdict::Fail(
            absl::StrFormat("with CAP_SYS_RESOURCE, F_SETPIPE_SZ(%d) above pipe-max-size %d %s",
                            want, max, Said(r, errno)));
      }
    } else if (r >= 0 || errno != EPERM) {
      return Verdict::Fail(
          absl::StrFormat("unprivileged F_SETPIPE_SZ(%d) above pipe-max-size %d %s, not EPERM",
                          want, max, Said(r, errno)));
    } else if (long now = PipeCapacity(fd); now != before) {
      return Verdict::Fail(absl::StrFormat(
          "the refused F_SETPIPE_SZ changed the capacity from %d to %d", before, now));
    }
    if (int at_max = ::fcntl(fd, F_SETPIPE_SZ, max); at_max < 0 && errno != EPERM) {
      return Verdict::Fail(
          absl::StrFormat("F_SETPIPE_SZ(pipe-max-size %d) %s", max, Said(at_max, errno)));
    } else if (at_max < 0) {
      return Verdict::Unsupported("the per-user pipe page limit (pipe-user-pages-soft) is reached");
    }
    if (int down = ::fcntl(fd, F_SETPIPE_SZ, PageSize()); down != PageSize()) {
      return Verdict::Fail(
          absl::StrFormat("decreasing to one page %s, expected %d", Said(down, errno), PageSize()));
    }
    return Verdict::Pass();
  }

  const BytesParam over_{
      this, 0, "the request is %s above pipe-max-size", 1,
      rc::gen::oneOf(rc::gen::element<uint64_t>(1, 4096), rc::gen::inRange<uint64_t>(1, 1u << 22))};
  const Param<bool> end_{this, 1, "it is called on %s", true, rc::gen::arbitrary<bool>(), SayEnd};
};
IPCSPEC_REGISTER_PROPERTY(SetSizeEpermProperty, "PIPE-SETPIPE-SZ-EPERM",
                          {.applies = ForPipeOrFifo, .examples = 10});

class SetSizeRoundProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const int shift = *rc::gen::inRange(10, 21);
      const uint64_t n =
          *rc::gen::oneOf(rc::gen::elementOf(std::vector<uint64_t>{
                              0, 1, (1ULL << shift) - 1, 1ULL << shift, (1ULL << shift) + 1}),
                          rc::gen::inRange<uint64_t>(0, 1u << 20));
      return std::vector<Step>{request_.Step(std::min<uint64_t>(n, 1u << 20)),
                               end_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    const long n = static_cast<long>(request_.Of(s));
    long want = PageSize();
    while (want < n) want <<= 1;
    const int fd = end_.Of(s) ? p.w.get() : p.r.get();
    const int got = ::fcntl(fd, F_SETPIPE_SZ, n);
    if (got < 0 && errno == EPERM) {
      return Verdict::Unsupported("the per-user pipe page limit (pipe-user-pages-soft) is reached");
    }
    if (got != want) {
      return Verdict::Fail(absl::StrFormat("F_SETPIPE_SZ(%d) on %s %s, expected %d", n,
                                           SayEnd(end_.Of(s)), Said(got, errno), want));
    }
    for (int e : {p.r.get(), p.w.get()}) {
      if (long c = PipeCapacity(e); c != want) {
        return Verdict::Fail(
            absl::StrFormat("after F_SETPIPE_SZ(%d) = %d, F_GETPIPE_SZ on %s "
                            "says %d",
                            n, want, SayEnd(e == p.w.get()), c));
      }
    }
    const int other = end_.Of(s) ? p.r.get() : p.w.get();
    if (int again = ::fcntl(other, F_SETPIPE_SZ, got); again != want) {
      return Verdict::Fail(
          absl::StrFormat("asking again for %d from the other end %s", got, Said(again, errno)));
    }
    return Verdict::Pass();
  }

  const BytesParam request_{this, 0, "F_SETPIPE_SZ asks for %s", 8192};
  const Param<bool> end_{this, 1, "it is called on %s", true, SayEnd};
};
IPCSPEC_REGISTER_PROPERTY(SetSizeRoundProperty, "PIPE-SETPIPE-SZ-ROUND",
                          {.applies = ForPipeOrFifo, .examples = 15});

}  // namespace pipe_capacity_props
}  // namespace
}  // namespace ipcspec::props
