// FILE-* (hand-off through a closed file, O_APPEND writers, fcntl write
// locks), checked with the raw calls. The fcntl lock goes through MechHooks so
// tests can substitute a wrong one.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"
#include "properties/support/send_steps.h"

namespace ipcspec::props {
namespace {
namespace file_props {

std::string ScratchFile(const CaseEnv& env) {
  return absl::StrCat(env.scratch_dir, "/", UniqueName("file"));
}

// Removes a scratch file on scope exit.
struct UnlinkOnExit {
  std::string path;
  ~UnlinkOnExit() { ::unlink(path.c_str()); }
};

class HandOffProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps = *SendSteps(0, 12, rc::gen::inRange<uint64_t>(0, 70000));
      if (*rc::gen::arbitrary<bool>()) steps.push_back(open_.Step(true));
      if (*rc::gen::arbitrary<bool>()) steps.push_back(append_.Step(true));
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
    UnlinkOnExit unlink_at_exit{path};
    // With `open`, the reader reads while the writer still holds the file
    // open: a write that has returned is there to be read (write(2)), not
    // only once the file is closed.
    const bool open = open_.Of(s), append = append_.Of(s);
    SharedFlags flags(2);  // written; read
    Participants ps(deadline);
    ps.Spawn("writer", [&]() -> Verdict {
      FileDescriptor fd(::open(
          path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (append ? O_APPEND : 0), 0600));
      if (!fd) return Verdict::Broken(absl::StrCat("open: ", ErrnoName(errno)));
      for (const Sent& m : sent) {
        const std::vector<std::byte> d = Payload(1, m.msg, m.size);
        if (WriteFull(fd.get(), d.data(), d.size()) < 0)
          return Verdict::Fail(absl::StrCat("write: ", ErrnoName(errno)));
      }
      if (open) {
        flags.Raise(0);
        flags.WaitFor(1, deadline);
      }
      return Verdict::Pass();
    });
    if (!open) {
      if (Verdict v = ps.Join(); !v.ok()) return v;
    }
    Participants readers(deadline);
    readers.Spawn("reader", [&]() -> Verdict {
      if (open && !flags.WaitFor(0, deadline)) return Verdict::Pass();  // the writer says why
      CloseInheritedDescriptors();
      const Verdict v = ReadBack(path, all, open);
      flags.Raise(1);
      return v;
    });
    Verdict v = readers.Join();
    flags.Raise(1);
    Verdict w = open ? ps.Join() : Verdict::Pass();
    return w.ok() ? v : w;
  }

  // Reads `path` to its end; it must hold `all`.
  static Verdict ReadBack(const std::string& path, const std::vector<std::byte>& all, bool open) {
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Verdict::Fail(absl::StrCat("open: ", ErrnoName(errno)));
    std::vector<std::byte> got(all.size() + 1);
    size_t have = 0;
    for (;;) {
      ssize_t n = ::read(fd.get(), got.data() + have, got.size() - have);
      if (n < 0) return Verdict::Fail(absl::StrCat("read: ", ErrnoName(errno)));
      have += n;
      if (n == 0 || have == got.size()) break;
    }
    got.resize(have);
    if (got != all) {
      return Verdict::Fail(absl::StrFormat(
          "read back %d bytes (or different ones); %d were written%s", have, all.size(),
          open ? ", every write returned, and the writer still holds the file open" : ""));
    }
    return Verdict::Pass();
  }

  const SendWords sends_{this, "the writer writes piece %d: %s"};
  const YesNoParam open_{this, 0, "the reader reads while the writer still holds the file open: %s",
                         false};
  const YesNoParam append_{this, 1, "the writer opens the file with O_APPEND: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(HandOffProperty, "FILE-HANDOFF", {.applies = ForFile, .examples = 20});

// Record sizes per writer (1..n), in the order each writes them.
using RecordSizes = std::map<uint32_t, std::vector<size_t>>;

// `writers` processes open `path` with O_APPEND and, after a common start,
// each writes its records with one write(2) apiece.
Verdict AppendConcurrently(const std::string& path, uint32_t writers, const RecordSizes& want,
                           const CaseEnv& env) {
  const Deadline deadline = CaseDeadline(env);
  ProcessBarrier start(writers);
  Participants ps(deadline);
  for (uint32_t w = 1; w <= writers; ++w) {
    ps.Spawn(absl::StrCat("writer ", w), [&, w]() -> Verdict {
      FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
      if (!fd) return Verdict::Broken(absl::StrCat("open(", path, "): ", ErrnoName(errno)));
      if (!start.Wait(deadline)) return Verdict::Broken("start barrier timed out");
      const auto it = want.find(w);
      const std::vector<size_t> none;
      const std::vector<size_t>& sizes = it != want.end() ? it->second : none;
      for (size_t i = 0; i < sizes.size(); ++i) {
        const std::vector<std::byte> rec = Record(w, static_cast<uint32_t>(i), sizes[i]);
        ssize_t n = ::write(fd.get(), rec.data(), rec.size());
        if (n != static_cast<ssize_t>(rec.size()))
          return Verdict::Fail(absl::StrFormat("short write %d of %d", n, rec.size()));
      }
      return Verdict::Pass();
    });
  }
  return ps.Join();
}

// The file holds every record once, intact, each writer's in order.
Verdict CheckAppended(const std::vector<std::byte>& all, uint32_t writers,
                      const RecordSizes& want) {
  size_t total = 0;
  for (const auto& [w, sizes] : want) {
    for (size_t z : sizes) total += z;
  }
  if (all.size() != total) {
    return Verdict::Fail(absl::StrFormat("the file has %d bytes; %d writers appended %d",
                                         all.size(), writers, total));
  }
  std::map<uint32_t, std::vector<uint32_t>> seen;
  RecordSizes lengths;
  if (std::string e = ParseRecords(all, &seen, &lengths); !e.empty()) return Verdict::Fail(e);
  for (uint32_t w = 1; w <= writers; ++w) {
    for (size_t i = 0; i < seen[w].size(); ++i) {
      if (seen[w][i] != i)
        return Verdict::Fail(
            absl::StrFormat("writer %d: record %d is number %d in the file", w, seen[w][i], i));
    }
    const auto it = want.find(w);
    const size_t wrote = it != want.end() ? it->second.size() : 0;
    if (lengths[w] != (it != want.end() ? it->second : std::vector<size_t>{})) {
      return Verdict::Fail(
          absl::StrFormat("writer %d: %d records found, %d written", w, seen[w].size(), wrote));
    }
  }
  return Verdict::Pass();
}

class AppendProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint32_t writers = *rc::gen::inRange<uint32_t>(2, 6);
      std::vector<Step> steps = {writers_.Step(writers)};
      for (uint32_t w = 1; w <= writers; ++w) {
        const int n = *rc::gen::inRange(1, 30);
        for (int i = 0; i < n; ++i)
          steps.push_back(Step::Send(w, *rc::gen::inRange<uint64_t>(kRecordHeader, 20000), i));
      }
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint32_t writers = std::max<uint32_t>(2, writers_.Of(s));
    const std::string path = ScratchFile(env);
    FileDescriptor created(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!created) return Verdict::Broken(absl::StrCat("open(", path, "): ", ErrnoName(errno)));
    UnlinkOnExit unlink_at_exit{path};
    RecordSizes want;
    for (const Step& st : s.steps) {
      if (st.op == Op::kSend && st.actor >= 1 && st.actor <= writers)
        want[st.actor].push_back(std::clamp<size_t>(st.size, kRecordHeader, 65535));
    }
    if (Verdict v = AppendConcurrently(path, writers, want, env); !v.ok()) return v;
    std::vector<std::byte> all;
    std::byte buf[65536];
    for (ssize_t n; (n = ::read(created.get(), buf, sizeof(buf))) > 0;)
      all.insert(all.end(), buf, buf + n);
    return CheckAppended(all, writers, want);
  }

  const SendWords sends_{this, "writer %d appends record %d: %s"};
  const Param<uint32_t> writers_{this, 0, "processes appending to one file: %s", 2};
};
IPCSPEC_REGISTER_PROPERTY(AppendProperty, "FILE-APPEND", {.applies = ForFile, .examples = 20});

// A process's fcntl write lock on the whole file; the count is the file's
// first 8 bytes, read and written back inside.
class FileLockSection : public CriticalSection {
 public:
  explicit FileLockSection(FileDescriptor fd) : fd_(std::move(fd)) {}
  int Enter(const Deadline&) override { return Lock(F_WRLCK, F_SETLKW); }
  int Leave() override { return Lock(F_UNLCK, F_SETLK); }
  int Increment(volatile uint64_t*) override {
    uint64_t v = 0;
    if (::pread(fd_.get(), &v, sizeof(v), 0) < 0) return -errno;
    ++v;
    return ::pwrite(fd_.get(), &v, sizeof(v), 0) == sizeof(v) ? 0 : -EIO;
  }

 private:
  int Lock(short type, int cmd) {
    struct flock fl = {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    return CallFcntlLock(fd_.get(), cmd, &fl) == 0 ? 0 : -errno;
  }
  FileDescriptor fd_;
};

class LockProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const std::string path = ScratchFile(env);
    FileDescriptor created(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!created) return Verdict::Broken(absl::StrCat("open(", path, "): ", ErrnoName(errno)));
    UnlinkOnExit unlink_at_exit{path};
    ExclusionRun run;
    run.processes = std::max(2, processes_.Of(s));
    run.rounds = rounds_.Of(s);
    run.blocking_syscall = SYS_fcntl;
    run.lock = "the F_SETLKW write lock";
    run.total = [&] {
      uint64_t total = 0;
      return ::pread(created.get(), &total, sizeof(total), 0) == sizeof(total) ? total : 0;
    };
    return CheckExclusion(
        run,
        [&](std::string* err) -> std::unique_ptr<CriticalSection> {
          FileDescriptor fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
          if (!fd) {
            *err = absl::StrCat("open(", path, "): ", ErrnoName(errno));
            return nullptr;
          }
          return std::make_unique<FileLockSection>(std::move(fd));
        },
        env);
  }

  const Param<int> processes_{this, 0, "processes taking the lock: %s", 2, rc::gen::inRange(2, 6)};
  const Param<int> rounds_{this, 1, "updates of the file each does under it: %s", 5,
                           rc::gen::inRange(1, 40)};
};
IPCSPEC_REGISTER_PROPERTY(LockProperty, "FILE-LOCK", {.applies = ForFile, .examples = 15});

}  // namespace file_props
}  // namespace
}  // namespace ipcspec::props
