// FILE-* (hand-off through a closed file, O_APPEND writers, fcntl write
// locks), checked with the raw calls. The fcntl lock goes through MechHooks so
// tests can substitute a wrong one.
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

std::string ScratchFile(const CaseEnv& env) {
  return absl::StrCat(env.scratch_dir, "/", UniqueName("file"));
}

class HandOffProperty : public NamedProperty {
 public:
  HandOffProperty()
      : NamedProperty(
            "FILE-HANDOFF",
            "data one process writes and closes is read back whole, in order, by another process "
            "that opens the file by name",
            "POSIX write() 'read after write'; open(2); the seed text's file technique") {}
  Applicability AppliesTo(const Transport& t) const override { return ForFile(t); }
  int DefaultExamples() const override { return 20; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      std::vector<Step> steps;
      const int n = *rc::gen::inRange(0, 12);
      for (int i = 0; i < n; ++i)
        steps.push_back(Step::Send(1, *rc::gen::inRange<uint64_t>(0, 70000), i));
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const std::string path = ScratchFile(env);
    const std::vector<Sent> sent = SendsOf(s, 1);
    std::vector<std::byte> all;
    for (const Sent& m : sent) {
      const std::vector<std::byte> d = Payload(1, m.msg, m.size);
      all.insert(all.end(), d.begin(), d.end());
    }
    const Deadline deadline = CaseDeadline(env);
    Verdict v;
    {
      Participants ps(deadline);
      ps.Spawn("writer", [&]() -> Verdict {
        FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!fd) return Verdict::Broken(absl::StrCat("open: ", ErrnoName(errno)));
        for (const Sent& m : sent) {
          const std::vector<std::byte> d = Payload(1, m.msg, m.size);
          if (WriteFull(fd.get(), d.data(), d.size()) < 0)
            return Verdict::Fail(absl::StrCat("write: ", ErrnoName(errno)));
        }
        return Verdict::Pass();
      });
      v = ps.Join();
    }
    if (v.ok()) {
      Participants ps(deadline);
      ps.Spawn("reader", [&]() -> Verdict {
        CloseInheritedDescriptors();
        FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) return Verdict::Fail(absl::StrCat("open: ", ErrnoName(errno)));
        std::vector<std::byte> got(all.size() + 1);
        size_t have = 0;
        for (;;) {
          ssize_t n = ::read(fd.get(), got.data() + have, got.size() - have);
          if (n < 0) return Verdict::Fail(absl::StrCat("read: ", ErrnoName(errno)));
          if (n == 0 || have + n == got.size()) {
            have += n;
            break;
          }
          have += n;
        }
        got.resize(have);
        if (got != all)
          return Verdict::Fail(absl::StrFormat(
              "read back %d bytes (or different ones); %d were written", have, all.size()));
        return Verdict::Pass();
      });
      v = ps.Join();
    }
    ::unlink(path.c_str());
    return v;
  }
};

class AppendProperty : public NamedProperty {
 public:
  AppendProperty()
      : NamedProperty(
            "FILE-APPEND",
            "several processes writing records with O_APPEND never overwrite each other: every "
            "record is in the file once, intact, each writer's in order, and the size is the sum",
            "open(2) O_APPEND ('the file offset is positioned at the end ... as a single atomic "
            "step'); POSIX write(); LTP testcases/kernel/syscalls/open/open02.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForFile(t); }
  int DefaultExamples() const override { return 20; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      const uint32_t writers = *rc::gen::inRange<uint32_t>(2, 6);
      std::vector<Step> steps = {Step::Param(0, writers)};
      for (uint32_t w = 1; w <= writers; ++w) {
        const int n = *rc::gen::inRange(1, 30);
        for (int i = 0; i < n; ++i)
          steps.push_back(Step::Send(w, *rc::gen::inRange<uint64_t>(kRecordHeader, 20000), i));
      }
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const auto writers = static_cast<uint32_t>(s.Param(0, 2));
    const std::string path = ScratchFile(env);
    FileDescriptor created(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!created) return Verdict::Broken(absl::StrCat("open: ", ErrnoName(errno)));
    struct Unlink {
      std::string p;
      ~Unlink() { ::unlink(p.c_str()); }
    } unlink_at_exit{path};
    std::map<uint32_t, std::vector<size_t>> want;
    for (const Step& st : s.steps) {
      if (st.op == Op::kSend)
        want[st.actor].push_back(std::clamp<size_t>(st.size, kRecordHeader, 65535));
    }
    const Deadline deadline = CaseDeadline(env);
    ProcessBarrier start(writers);
    Participants ps(deadline);
    for (uint32_t w = 1; w <= writers; ++w) {
      ps.Spawn(absl::StrCat("writer ", w), [&, w]() -> Verdict {
        FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
        if (!fd) return Verdict::Broken(absl::StrCat("open: ", ErrnoName(errno)));
        if (!start.Wait(deadline)) return Verdict::Broken("start barrier timed out");
        const std::vector<size_t>& sizes = want[w];
        for (size_t i = 0; i < sizes.size(); ++i) {
          const std::vector<std::byte> rec = Record(w, static_cast<uint32_t>(i), sizes[i]);
          ssize_t n = ::write(fd.get(), rec.data(), rec.size());
          if (n != static_cast<ssize_t>(rec.size()))
            return Verdict::Fail(absl::StrFormat("short write %d of %d", n, rec.size()));
        }
        return Verdict::Pass();
      });
    }
    if (Verdict v = ps.Join(); !v.ok()) return v;
    std::vector<std::byte> all;
    std::byte buf[65536];
    for (ssize_t n; (n = ::read(created.get(), buf, sizeof(buf))) > 0;)
      all.insert(all.end(), buf, buf + n);
    size_t total = 0;
    for (auto& [w, sizes] : want) {
      for (size_t z : sizes) total += z;
    }
    if (all.size() != total) {
      return Verdict::Fail(absl::StrFormat("the file has %d bytes; %d writers appended %d",
                                           all.size(), writers, total));
    }
    std::map<uint32_t, std::vector<uint32_t>> seen;
    std::map<uint32_t, std::vector<size_t>> lengths;
    if (std::string e = ParseRecords(all, &seen, &lengths); !e.empty()) return Verdict::Fail(e);
    for (uint32_t w = 1; w <= writers; ++w) {
      for (size_t i = 0; i < seen[w].size(); ++i) {
        if (seen[w][i] != i)
          return Verdict::Fail(
              absl::StrFormat("writer %d: record %d is number %d in the file", w, seen[w][i], i));
      }
      if (lengths[w] != want[w])
        return Verdict::Fail(absl::StrFormat("writer %d: %d records found, %d written", w,
                                             seen[w].size(), want[w].size()));
    }
    return Verdict::Pass();
  }
};

class LockProperty : public NamedProperty {
 public:
  LockProperty()
      : NamedProperty(
            "FILE-LOCK",
            "writers that take an fcntl F_SETLKW write lock are serialised: critical sections "
            "never overlap and K processes x N read-increment-write updates give K*N",
            "fcntl(2) 'Advisory record locking' F_SETLKW; LTP testcases/kernel/syscalls/fcntl/"
            "fcntl11.c..fcntl14.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForFile(t); }
  int DefaultExamples() const override { return 15; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{Step::Param(0, *rc::gen::inRange(2, 6)),
                               Step::Param(1, *rc::gen::inRange(1, 40))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int procs = static_cast<int>(s.Param(0, 2));
    const int rounds = static_cast<int>(s.Param(1, 5));
    const std::string path = ScratchFile(env);
    FileDescriptor created(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!created) return Verdict::Broken(absl::StrCat("open: ", ErrnoName(errno)));
    struct Unlink {
      std::string p;
      ~Unlink() { ::unlink(p.c_str()); }
    } unlink_at_exit{path};
    const Deadline deadline = CaseDeadline(env);
    // Counter 0: processes inside; 1: overlaps seen; 8 + p: pid of p.
    // Flag p: process p has finished all rounds.
    SharedFlags flags(16);
    ProcessBarrier start(procs);
    Participants ps(deadline);
    for (int p = 0; p < procs; ++p) {
      ps.Spawn(absl::StrCat("writer ", p), [&, p]() -> Verdict {
        FileDescriptor fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
        if (!fd) return Verdict::Broken(absl::StrCat("open: ", ErrnoName(errno)));
        flags.Counter(8 + p) = static_cast<uint64_t>(::getpid());
        if (!start.Wait(deadline)) return Verdict::Broken("start barrier timed out");
        for (int r = 0; r < rounds; ++r) {
          struct flock fl = {};
          fl.l_type = F_WRLCK;
          fl.l_whence = SEEK_SET;
          if (CallFcntlLock(fd.get(), F_SETLKW, &fl) != 0)
            return Verdict::Fail(absl::StrCat("F_SETLKW: ", ErrnoName(errno)));
          if (flags.Counter(0).fetch_add(1) != 0) flags.Counter(1).fetch_add(1);
          if (r == 0) {
            // Hold the lock until every other writer is waiting for it (or
            // done, or wrongly inside too), so a lock that does not exclude
            // is caught on every run.
            for (int o = 0; o < procs; ++o) {
              if (o == p) continue;
              while (!flags.IsRaised(o) && flags.Counter(0).load() < 2 && !deadline.Passed()) {
                const auto pid = static_cast<pid_t>(flags.Counter(8 + o).load());
                if (pid != 0 &&
                    WaitUntilBlockedIn(pid, SYS_fcntl, Deadline::After(absl::Milliseconds(5))))
                  break;
              }
            }
          }
          uint64_t v = 0;
          if (::pread(fd.get(), &v, sizeof(v), 0) < 0) return Verdict::Broken("pread");
          ::sched_yield();
          ++v;
          if (::pwrite(fd.get(), &v, sizeof(v), 0) != sizeof(v)) return Verdict::Broken("pwrite");
          flags.Counter(0).fetch_sub(1);
          fl.l_type = F_UNLCK;
          if (CallFcntlLock(fd.get(), F_SETLK, &fl) != 0)
            return Verdict::Fail(absl::StrCat("F_UNLCK: ", ErrnoName(errno)));
        }
        flags.Raise(p);
        return Verdict::Pass();
      });
    }
    if (Verdict v = ps.Join(); !v.ok()) return v;
    uint64_t total = 0;
    if (::pread(created.get(), &total, sizeof(total), 0) < 0) return Verdict::Broken("pread");
    const uint64_t overlaps = flags.Counter(1).load();
    if (overlaps != 0 || total != static_cast<uint64_t>(procs) * rounds) {
      return Verdict::Fail(
          absl::StrFormat("%d processes x %d locked updates: counter %d, expected %d; %d critical "
                          "sections overlapped",
                          procs, rounds, total, procs * rounds, overlaps));
    }
    return Verdict::Pass();
  }
};

IPCSPEC_REGISTER_PROPERTY(HandOffProperty);
IPCSPEC_REGISTER_PROPERTY(AppendProperty);
IPCSPEC_REGISTER_PROPERTY(LockProperty);

}  // namespace
}  // namespace ipcspec::props
