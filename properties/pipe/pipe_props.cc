// PIPE-* (single process): the kernel's pipe contract on the pipe's two
// descriptors: wrong-direction calls give EBADF and leave the data in
// flight alone, a write without a reader gives EPIPE and one SIGPIPE, end of
// file only after draining, EAGAIN on a full non-blocking pipe, partial
// non-blocking writes above PIPE_BUF, ESPIPE for seeks, F_SETPIPE_SZ.
// They apply to "pipe" (pipe2) and to "fifo" (the same rows on a mkfifo
// node), the pipe made through MechHooks so tests can substitute a wrong one.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"

namespace ipcspec::props {
namespace {

std::vector<std::byte> Bytes(uint64_t seed, size_t n) { return Payload(7, seed, n); }

rc::Gen<uint64_t> PipeSize() {
  return rc::gen::oneOf(
      rc::gen::elementOf(std::vector<uint64_t>{0, 1, PIPE_BUF - 1, PIPE_BUF, PIPE_BUF + 1, 3000}),
      rc::gen::inRange<uint64_t>(0, 2 * PIPE_BUF));
}

std::string Describe(ssize_t n, int err) {
  return n >= 0 ? absl::StrFormat("returned %d", n) : absl::StrCat("failed with ", ErrnoName(err));
}

// Reads back exactly `want` from the read end without blocking, and then
// nothing more. Empty string when so.
std::string ExpectExactly(int r, const std::vector<std::byte>& want, std::string_view when) {
  if (SetNonBlocking(r, true) < 0) return "fcntl(O_NONBLOCK) failed";
  std::vector<std::byte> got = DrainNonBlocking(r);
  SetNonBlocking(r, false);
  if (got == want) return "";
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return absl::StrFormat("%s: read back %d bytes, expected %d; first difference at byte %d", when,
                         got.size(), want.size(), i);
}

class DirectionProperty : public NamedProperty {
 public:
  DirectionProperty()
      : NamedProperty(
            "PIPE-EBADF",
            "write on the read end and read on the write end give EBADF (blocking or not); "
            "the data in flight is intact, nothing extra appears, the pipe still works",
            "pipe(7), read(2)/write(2) EBADF; LTP testcases/kernel/syscalls/pipe/pipe03.c; "
            "gVisor test/syscalls/linux/pipe.cc (ReadOnWriteEnd/WriteOnReadEnd)") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPipeOrFifo(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{Step::Param(0, *PipeSize()), Step::Param(1, *rc::gen::inRange(0, 2)),
                               Step::Param(2, *rc::gen::inRange(0, 2)),
                               Step::Param(3, *rc::gen::inRange<uint64_t>(1, 2 * PIPE_BUF)),
                               Step::Param(4, *rc::gen::inRange(0, 2))};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const size_t in_flight = s.Param(0, 100);
    const bool r_nonblock = s.Param(1, 0) != 0, w_nonblock = s.Param(2, 0) != 0;
    const size_t k = std::max<uint64_t>(1, s.Param(3, 10));
    const bool read_first = s.Param(4, 0) != 0;
    PipeFds p;
    Verdict broken;
    if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
    const std::vector<std::byte> data = Bytes(1, in_flight);
    if (WriteFull(p.w.get(), data.data(), data.size()) < 0)
      return Verdict::Broken("filling the pipe");
    if (r_nonblock) SetNonBlocking(p.r.get(), true);
    if (w_nonblock) SetNonBlocking(p.w.get(), true);
    const std::string mode = absl::StrFormat("(read end %s, write end %s, %d bytes in flight)",
                                             r_nonblock ? "O_NONBLOCK" : "blocking",
                                             w_nonblock ? "O_NONBLOCK" : "blocking", in_flight);
    std::vector<std::byte> buf(k);
    std::string failure;
    {
      // A call that blocks instead of failing comes back with EINTR.
      InterruptAfter guard(absl::Milliseconds(300));
      for (int i = 0; i < 2 && failure.empty(); ++i) {
        if ((i == 0) != read_first) {
          const std::vector<std::byte> junk = Bytes(99, k);
          ssize_t n = ::write(p.r.get(), junk.data(), k);
          if (n >= 0 || errno != EBADF) {
            failure = absl::StrFormat("write(%d bytes) on the read end %s, not EBADF", k,
                                      n < 0 && errno == EINTR ? "blocked" : Describe(n, errno));
          }
        } else {
          ssize_t n = ::read(p.w.get(), buf.data(), k);
          if (n >= 0 || errno != EBADF) {
            failure = absl::StrFormat("read(%d bytes) on the write end %s, not EBADF", k,
                                      n < 0 && errno == EINTR ? "blocked" : Describe(n, errno));
          }
        }
      }
    }
    if (!failure.empty()) return Verdict::Fail(absl::StrCat(failure, " ", mode));
    if (long q = BytesQueued(p.r.get()); q != static_cast<long>(in_flight)) {
      return Verdict::Fail(absl::StrFormat("after the refused calls %d bytes are queued, not %d %s",
                                           q, in_flight, mode));
    }
    if (std::string e = ExpectExactly(p.r.get(), data, "after the refused calls"); !e.empty()) {
      return Verdict::Fail(absl::StrCat(e, " ", mode));
    }
    const std::vector<std::byte> more = Bytes(2, 64);
    SetNonBlocking(p.w.get(), false);
    if (WriteFull(p.w.get(), more.data(), more.size()) < 0) {
      return Verdict::Fail(absl::StrCat("the pipe no longer accepts writes ", mode));
    }
    if (std::string e = ExpectExactly(p.r.get(), more, "the pipe afterwards"); !e.empty()) {
      return Verdict::Fail(absl::StrCat(e, " ", mode));
    }
    return Verdict::Pass();
  }
};

class EpipeProperty : public NamedProperty {
 public:
  EpipeProperty()
      : NamedProperty(
            "PIPE-EPIPE",
            "with no reader left, every write fails with EPIPE and raises exactly one SIGPIPE",
            "pipe(7), write(2) EPIPE; LTP testcases/kernel/syscalls/pipe/pipe08.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPipeOrFifo(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      std::vector<Step> steps = {
          Step::Param(0, *rc::gen::inRange(0, 2)),   // 1: blocked + sigtimedwait
          Step::Param(1, *rc::gen::inRange(0, 2)),   // write end O_NONBLOCK
          Step::Param(2, *rc::gen::inRange(0, 2))};  // unread data left behind
      const int n = *rc::gen::inRange(1, 8);
      for (int i = 0; i < n; ++i) {
        steps.push_back(Step::Send(1, *rc::gen::inRange<uint64_t>(1, 20 * PIPE_BUF), i));
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const bool blocked_mode = s.Param(0, 0) != 0;
    PipeFds p;
    Verdict broken;
    if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
    if (s.Param(1, 0) != 0) SetNonBlocking(p.w.get(), true);
    if (s.Param(2, 0) != 0 && WriteFull(p.w.get(), "left", 4) < 0) return Verdict::Broken("write");
    p.r.reset();
    SignalCounter counter(SIGPIPE);
    sigset_t pipe_set, old_mask;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (blocked_mode) {
      ::sigprocmask(SIG_BLOCK, &pipe_set, &old_mask);
    } else if (counter.Install() < 0) {
      return Verdict::Broken("sigaction(SIGPIPE)");
    }
    int i = 0;
    std::string failure;
    for (const Step& st : s.steps) {
      if (st.op != Op::kSend) continue;
      const std::vector<std::byte> data = Bytes(st.arg, st.size);
      ssize_t n = ::write(p.w.get(), data.data(), data.size());
      if (n >= 0 || errno != EPIPE) {
        failure = absl::StrFormat("write %d (%d bytes) with no reader %s, not EPIPE", i + 1,
                                  st.size, Describe(n, errno));
        break;
      }
      int signals = 0;
      if (blocked_mode) {
        struct timespec zero = {0, 0};
        while (::sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) ++signals;
      } else {
        signals = counter.count() - i;
      }
      if (signals != 1) {
        failure = absl::StrFormat(
            "failed write %d raised %d SIGPIPE, not exactly one (%s)", i + 1, signals,
            blocked_mode ? "blocked, collected with sigtimedwait" : "handler");
        break;
      }
      ++i;
    }
    if (blocked_mode) ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    return failure.empty() ? Verdict::Pass() : Verdict::Fail(failure);
  }
};

class EofProperty : public NamedProperty {
 public:
  EofProperty()
      : NamedProperty(
            "PIPE-EOF",
            "with the writer open an empty pipe is EAGAIN, not EOF; after it closes, every "
            "buffered byte is read before read returns 0, and 0 stays",
            "pipe(7) 'I/O on pipes and FIFOs'; read(2); LTP pipe/pipe02.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPipeOrFifo(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      std::vector<Step> steps;
      const int n = *rc::gen::inRange(0, 8);
      for (int i = 0; i < n; ++i) steps.push_back(Step::Send(1, *PipeSize(), i));
      const int c = *rc::gen::inRange(1, 4);
      for (int i = 0; i < c; ++i)
        steps.push_back(Step::Recv(0, *rc::gen::inRange<uint64_t>(1, 9000)));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    PipeFds p;
    Verdict broken;
    if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
    SetNonBlocking(p.r.get(), true);
    char c;
    ssize_t n = ::read(p.r.get(), &c, 1);
    if (n >= 0 || errno != EAGAIN) {
      return Verdict::Fail(absl::StrCat("empty pipe with its writer open: read ",
                                        Describe(n, errno), ", not EAGAIN"));
    }
    SetNonBlocking(p.r.get(), false);
    std::vector<std::byte> all;
    for (const Step& st : s.steps) {
      if (st.op != Op::kSend) continue;
      const std::vector<std::byte> d = Bytes(st.arg, st.size);
      if (all.size() + d.size() > 60000) break;
      if (WriteFull(p.w.get(), d.data(), d.size()) < 0) return Verdict::Broken("write");
      all.insert(all.end(), d.begin(), d.end());
    }
    p.w.reset();
    std::vector<uint64_t> chunks = ChunksOf(s);
    if (chunks.empty()) chunks.push_back(4096);
    std::vector<std::byte> got;
    InterruptAfter guard(absl::Seconds(1));
    for (size_t i = 0;; ++i) {
      std::vector<std::byte> buf(chunks[i % chunks.size()]);
      n = ::read(p.r.get(), buf.data(), buf.size());
      if (n < 0)
        return Verdict::Fail(absl::StrCat("read after the writer closed: ", ErrnoName(errno)));
      if (n == 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
    if (got != all) {
      return Verdict::Fail(absl::StrFormat(
          "read %d bytes before EOF, %d were buffered (or they differ)", got.size(), all.size()));
    }
    n = ::read(p.r.get(), &c, 1);
    if (n != 0) return Verdict::Fail(absl::StrCat("second read after EOF ", Describe(n, errno)));
    return Verdict::Pass();
  }
};

class EspipeProperty : public NamedProperty {
 public:
  EspipeProperty()
      : NamedProperty("PIPE-ESPIPE",
                      "lseek, pread and pwrite on either end give ESPIPE and move no data",
                      "lseek(2) ESPIPE, pread(2); LTP testcases/kernel/syscalls/lseek/lseek02.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPipeOrFifo(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{
          Step::Param(0, *rc::gen::inRange<uint64_t>(0, 1u << 20)),
          Step::Param(1, *rc::gen::elementOf(std::vector<uint64_t>{SEEK_SET, SEEK_CUR, SEEK_END})),
          Step::Param(2, *PipeSize())};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const off_t off = static_cast<off_t>(s.Param(0, 0));
    const int whence = static_cast<int>(s.Param(1, SEEK_SET));
    PipeFds p;
    Verdict broken;
    if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
    const std::vector<std::byte> data = Bytes(3, s.Param(2, 10));
    if (WriteFull(p.w.get(), data.data(), data.size()) < 0) return Verdict::Broken("write");
    for (int fd : {p.r.get(), p.w.get()}) {
      const char* end = fd == p.r.get() ? "read end" : "write end";
      off_t o = ::lseek(fd, off, whence);
      if (o >= 0 || errno != ESPIPE) {
        return Verdict::Fail(absl::StrFormat("lseek(%d, whence %d) on the %s %s, not ESPIPE", off,
                                             whence, end, Describe(o, errno)));
      }
    }
    char buf[16];
    ssize_t n = ::pread(p.r.get(), buf, sizeof(buf), off);
    if (n >= 0 || errno != ESPIPE)
      return Verdict::Fail(absl::StrCat("pread ", Describe(n, errno), ", not ESPIPE"));
    n = ::pwrite(p.w.get(), "junk", 4, off);
    if (n >= 0 || errno != ESPIPE)
      return Verdict::Fail(absl::StrCat("pwrite ", Describe(n, errno), ", not ESPIPE"));
    if (std::string e = ExpectExactly(p.r.get(), data, "after the seeks"); !e.empty())
      return Verdict::Fail(e);
    return Verdict::Pass();
  }
};

class FullProperty : public NamedProperty {
 public:
  FullProperty()
      : NamedProperty(
            "PIPE-EAGAIN",
            "non-blocking writes of c bytes fill the pipe to between half and all of "
            "F_GETPIPE_SZ, then give EAGAIN; c <= PIPE_BUF is all-or-nothing; nothing is "
            "lost and writing resumes after a drain; empty non-blocking read gives EAGAIN",
            "pipe(7) 'Pipe capacity', 'O_NONBLOCK'; LTP pipe/pipe07.c; gVisor pipe.cc "
            "(NonBlocking)") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPipeOrFifo(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      const uint64_t c = *rc::gen::oneOf(rc::gen::elementOf(std::vector<uint64_t>{
                                             1, 7, 4095, 4096, PIPE_BUF, PIPE_BUF + 1, 65536}),
                                         rc::gen::inRange<uint64_t>(1, 3 * PIPE_BUF));
      return std::vector<Step>{
          Step::Param(0, c),
          Step::Param(1, *rc::gen::elementOf(std::vector<uint64_t>{0, 1, 2, 4}))};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const size_t c = std::max<uint64_t>(1, s.Param(0, 100));
    const int pages = static_cast<int>(s.Param(1, 0));
    PipeFds p;
    Verdict broken;
    if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
    if (pages > 0 && ::fcntl(p.w.get(), F_SETPIPE_SZ, pages * ::getpagesize()) < 0) {
      return Verdict::Broken(absl::StrCat("F_SETPIPE_SZ: ", ErrnoName(errno)));
    }
    const long cap = PipeCapacity(p.w.get());
    if (cap <= 0) return Verdict::Broken("F_GETPIPE_SZ");
    SetNonBlocking(p.w.get(), true);
    SetNonBlocking(p.r.get(), true);
    char b;
    if (ssize_t n = ::read(p.r.get(), &b, 1); n >= 0 || errno != EAGAIN) {
      return Verdict::Fail(
          absl::StrCat("non-blocking read of the empty pipe ", Describe(n, errno), ", not EAGAIN"));
    }
    std::vector<std::byte> sent;
    for (uint64_t i = 0;; ++i) {
      const std::vector<std::byte> d = Bytes(100 + i, c);
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
    const std::vector<std::byte> again = Bytes(999, c);
    if (ssize_t n = ::write(p.w.get(), again.data(), c); n >= 0 || errno != EAGAIN) {
      return Verdict::Fail(
          absl::StrCat("second write to the full pipe ", Describe(n, errno), ", not EAGAIN"));
    }
    if (BytesQueued(p.r.get()) != total)
      return Verdict::Fail("the refused write changed the queued byte count");
    if (std::string e = ExpectExactly(p.r.get(), sent, "after filling"); !e.empty())
      return Verdict::Fail(e);
    const std::vector<std::byte> resume = Bytes(1000, std::min<size_t>(c, cap));
    if (ssize_t n = ::write(p.w.get(), resume.data(), resume.size());
        n != static_cast<ssize_t>(resume.size())) {
      return Verdict::Fail(absl::StrCat("after draining, the write ", Describe(n, errno)));
    }
    return Verdict::Pass();
  }
};

class PartialProperty : public NamedProperty {
 public:
  PartialProperty()
      : NamedProperty(
            "PIPE-PARTIAL",
            "a non-blocking write above PIPE_BUF into a pipe with room for part of it writes "
            "a partial count (the room), not EAGAIN, and the prefix arrives intact",
            "write(2) and pipe(7) 'PIPE_BUF' (n > PIPE_BUF with O_NONBLOCK may be partial); "
            "POSIX write()") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPipeOrFifo(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{Step::Param(0, *rc::gen::inRange<uint64_t>(1, 2 * PIPE_BUF)),
                               Step::Param(1, *rc::gen::inRange<uint64_t>(0, 8))};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    PipeFds p;
    Verdict broken;
    if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
    const long cap = PipeCapacity(p.w.get());
    if (cap <= 0) return Verdict::Broken("F_GETPIPE_SZ");
    const long page = ::getpagesize();
    // Pre-fill whole pages so the room left is a whole number of pages.
    const long prefill = std::min<long>(s.Param(1, 0), cap / page - 1) * page;
    const std::vector<std::byte> pre = Bytes(5, prefill);
    if (WriteFull(p.w.get(), pre.data(), pre.size()) < 0) return Verdict::Broken("write");
    const long room = cap - prefill;
    const size_t n = room + s.Param(0, 1);
    SetNonBlocking(p.w.get(), true);
    const std::vector<std::byte> big = Bytes(6, n);
    ssize_t w = ::write(p.w.get(), big.data(), n);
    if (w <= 0 || w > room) {
      return Verdict::Fail(absl::StrFormat(
          "non-blocking write of %d bytes with %d bytes of room %s", n, room, Describe(w, errno)));
    }
    std::vector<std::byte> want = pre;
    want.insert(want.end(), big.begin(), big.begin() + w);
    if (std::string e = ExpectExactly(p.r.get(), want, "after the partial write"); !e.empty())
      return Verdict::Fail(e);
    return Verdict::Pass();
  }
};

class SetSizeProperty : public NamedProperty {
 public:
  SetSizeProperty()
      : NamedProperty(
            "PIPE-SETPIPE-SZ",
            "F_SETPIPE_SZ(n) sets a capacity >= n that F_GETPIPE_SZ reports on both ends and "
            "that non-blocking page writes fill exactly; shrinking below the content is EBUSY",
            "fcntl(2) F_SETPIPE_SZ/F_GETPIPE_SZ; LTP testcases/kernel/syscalls/fcntl/fcntl30.c, "
            "fcntl35.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForPipeOrFifo(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      const uint64_t req = *rc::gen::oneOf(
          rc::gen::elementOf(std::vector<uint64_t>{1, 4096, 4097, 8192, 65536, 65537, 1u << 20}),
          rc::gen::inRange<uint64_t>(1, 1u << 19));
      return std::vector<Step>{Step::Param(0, req)};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const long req = static_cast<long>(s.Param(0, 8192));
    PipeFds p;
    Verdict broken;
    if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
    const int got = ::fcntl(p.w.get(), F_SETPIPE_SZ, static_cast<int>(req));
    if (got < 0) {
      if (errno == EPERM) {
        return Verdict::Unsupported(
            absl::StrFormat("F_SETPIPE_SZ(%d): EPERM (fs.pipe-max-size or the "
                            "per-user pipe page limit)",
                            req));
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
    const long filled = FillNonBlocking(p.w.get(), ::getpagesize());
    if (filled != got) {
      return Verdict::Fail(absl::StrFormat(
          "capacity set to %d (asked %d) but page writes filled %d bytes", got, req, filled));
    }
    if (got > ::getpagesize()) {
      int r = ::fcntl(p.w.get(), F_SETPIPE_SZ, ::getpagesize());
      if (r >= 0 || errno != EBUSY) {
        return Verdict::Fail(absl::StrCat("shrinking a full pipe below its content ",
                                          Describe(r, errno), ", not EBUSY"));
      }
      if (PipeCapacity(p.w.get()) != got)
        return Verdict::Fail("a refused shrink changed the capacity");
    }
    return Verdict::Pass();
  }
};

IPCSPEC_REGISTER_PROPERTY(DirectionProperty);
IPCSPEC_REGISTER_PROPERTY(EpipeProperty);
IPCSPEC_REGISTER_PROPERTY(EofProperty);
IPCSPEC_REGISTER_PROPERTY(EspipeProperty);
IPCSPEC_REGISTER_PROPERTY(FullProperty);
IPCSPEC_REGISTER_PROPERTY(PartialProperty);
IPCSPEC_REGISTER_PROPERTY(SetSizeProperty);

}  // namespace
}  // namespace ipcspec::props
