#include "properties/support/mech_common.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

constexpr uint16_t kMagic = 0xA5C3;

std::atomic<int> g_alarms{0};
void CountAlarm(int) { g_alarms.fetch_add(1); }

std::atomic<int> g_signals{0};
void CountSignal(int) { g_signals.fetch_add(1); }

int MakeFifoPipe(const std::string& dir, int fds[2]) {
  const std::string path = absl::StrCat(dir, "/", UniqueName("pipe"));
  if (::mkfifo(path.c_str(), 0600) != 0) return -errno;
  FileDescriptor r(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  const int open_err = errno;
  FileDescriptor w(r ? ::open(path.c_str(), O_WRONLY | O_CLOEXEC) : -1);
  const int open_err2 = errno;
  ::unlink(path.c_str());
  if (!r) return -open_err;
  if (!w) return -open_err2;
  if (int rc = SetNonBlocking(r.get(), false); rc < 0) return rc;
  fds[0] = r.release();
  fds[1] = w.release();
  return 0;
}

}  // namespace

MechHooks& Hooks() {
  static MechHooks hooks;
  return hooks;
}

int MakePipe(const Transport& t, const std::string& dir, int fds[2]) {
  if (Hooks().make_pipe != nullptr) return Hooks().make_pipe(fds);
  if (t.name() == "fifo") return MakeFifoPipe(dir, fds);
  return ::pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno;
}

bool NewPipe(const Transport& t, const std::string& dir, PipeFds* p, Verdict* failure) {
  int fds[2];
  if (int rc = MakePipe(t, dir, fds); rc < 0) {
    *failure =
        Verdict::Broken(absl::StrCat("making a ", std::string(t.name()), ": ", ErrnoName(-rc)));
    return false;
  }
  p->r.reset(fds[0]);
  p->w.reset(fds[1]);
  p->capacity = PipeCapacity(fds[1]);
  return true;
}

long PipeCapacity(int fd) {
  const int n = ::fcntl(fd, F_GETPIPE_SZ);
  return n < 0 ? -errno : n;
}

int CallEventfd(unsigned int initval, int flags) {
  if (Hooks().eventfd != nullptr) return Hooks().eventfd(initval, flags);
  return ::eventfd(initval, flags);
}

int CallFcntlLock(int fd, int cmd, struct flock* fl) {
  if (Hooks().fcntl_lock != nullptr) return Hooks().fcntl_lock(fd, cmd, fl);
  return ::fcntl(fd, cmd, fl);
}

Applicability ForPipeOrFifo(const Transport& t) {
  return OnlyFor(t, {"pipe", "fifo"}, "PIPE-* checks pipe(2)/mkfifo(3) descriptors themselves");
}
Applicability ForFifo(const Transport& t) {
  return OnlyFor(t, {"fifo"}, "FIFO-* checks opening a mkfifo(3) node itself");
}
Applicability ForSysvMsg(const Transport& t) {
  return OnlyFor(t, {"sysv_msg"}, "SYSV-MSG-* checks msgget/msgsnd/msgrcv themselves");
}
Applicability ForPosixMq(const Transport& t) {
  return OnlyFor(t, {"posix_mq"}, "POSIX-MQ-* checks mq_open/mq_send/mq_receive themselves");
}
Applicability ForEventfd(const Transport& t) {
  return OnlyFor(t, {"eventfd"}, "EVENTFD-* checks eventfd(2) itself");
}
Applicability ForFile(const Transport& t) {
  return OnlyFor(t, {"file"}, "FILE-* checks regular-file open/write/fcntl themselves");
}

InterruptAfter::InterruptAfter(absl::Duration after) {
  g_alarms = 0;
  struct sigaction sa = {};
  sa.sa_handler = CountAlarm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the blocked call returns EINTR
  ::sigaction(SIGALRM, &sa, &old_action_);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  struct itimerval it = {};
  it.it_value = absl::ToTimeval(after);
  it.it_interval = absl::ToTimeval(after);
  ::setitimer(ITIMER_REAL, &it, &old_timer_);
}

InterruptAfter::~InterruptAfter() {
  struct itimerval off = {};
  ::setitimer(ITIMER_REAL, &off, nullptr);
  ::sigaction(SIGALRM, &old_action_, nullptr);
  ::setitimer(ITIMER_REAL, &old_timer_, nullptr);
}

int InterruptAfter::fired() const { return g_alarms.load(); }

SignalCounter::SignalCounter(int sig) : sig_(sig) {}

SignalCounter::~SignalCounter() {
  if (installed_) ::sigaction(sig_, &old_, nullptr);
}

int SignalCounter::Install(int flags) {
  g_signals = 0;
  struct sigaction sa = {};
  sa.sa_handler = CountSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = flags;
  if (::sigaction(sig_, &sa, &old_) != 0) return -errno;
  installed_ = true;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig_);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  return 0;
}

int SignalCounter::count() const { return g_signals.load(); }

bool WaitUntilBlockedInOr(pid_t pid, long nr, const std::function<bool()>& instead,
                          const Deadline& deadline) {
  for (;;) {
    if (instead()) return true;
    const Deadline slice = Deadline::After(absl::Milliseconds(2));
    if (WaitUntilBlockedIn(pid, nr, slice.when() < deadline.when() ? slice : deadline)) return true;
    if (deadline.Passed()) return instead();
  }
}

int CriticalSection::Increment(volatile uint64_t* shared) {
  const uint64_t v = *shared;
  *shared = v + 1;
  return 0;
}

namespace {

// The shared state of CheckExclusion: flag p says process p is about to
// enter its first section, flag n + p that it entered, flag 2n + p that it
// finished; counter p is its pid.
class ExclusionState {
 public:
  explicit ExclusionState(int n) : n_(n), flags_(3 * n + 3), count_(sizeof(uint64_t)) {
    *Count() = 0;
  }
  volatile uint64_t* Count() const { return static_cast<volatile uint64_t*>(count_.data()); }
  std::atomic<uint64_t>& Inside() const { return flags_.Counter(3 * n_); }
  std::atomic<uint64_t>& Overlaps() const { return flags_.Counter(3 * n_ + 1); }
  std::atomic<uint64_t>& Holder() const { return flags_.Counter(3 * n_ + 2); }
  std::atomic<uint64_t>& Pid(int p) const { return flags_.Counter(p); }
  void Arriving(int p) { flags_.Raise(p); }
  void Entered(int p) { flags_.Raise(n_ + p); }
  void Finished(int p) { flags_.Raise(2 * n_ + p); }
  bool WaitArriving(int p, const Deadline& d) const { return flags_.WaitFor(p, d); }
  bool HasEntered(int p) const { return flags_.IsRaised(n_ + p); }
  bool HasFinished(int p) const { return flags_.IsRaised(2 * n_ + p); }

 private:
  int n_;
  SharedFlags flags_;
  SharedMemory count_;
};

// The first holder waits until every other process sleeps in the lock's call,
// or got in anyway, or is done.
Verdict HoldUntilOthersWait(const ExclusionRun& run, ExclusionState& st, int me,
                            const Deadline& deadline) {
  for (int o = 0; o < run.processes; ++o) {
    if (o == me) continue;
    const auto pid = static_cast<pid_t>(st.Pid(o).load());
    // Only after it announced its attempt: before that it may sleep elsewhere
    // (in the start barrier's futex, say).
    if (!st.WaitArriving(o, deadline) ||
        !WaitUntilBlockedInOr(
            pid, run.blocking_syscall, [&] { return st.HasEntered(o) || st.HasFinished(o); },
            deadline)) {
      return Verdict::Broken(absl::StrFormat(
          "process %d neither waited for %s nor got in while it was held", o, run.lock));
    }
  }
  return Verdict::Pass();
}

Verdict ExclusionRounds(const ExclusionRun& run, const OpenSection& open, ExclusionState& st,
                        ProcessBarrier& start, int me, const Deadline& deadline) {
  std::string err;
  std::unique_ptr<CriticalSection> section = open(&err);
  if (!section) return Verdict::Broken(err);
  st.Pid(me) = static_cast<uint64_t>(::getpid());
  if (!start.Wait(deadline)) return Verdict::Broken("start barrier timed out");
  for (int r = 0; r < run.rounds; ++r) {
    if (r == 0) st.Arriving(me);
    if (int rc = section->Enter(deadline); rc != 0)
      return Verdict::Fail(absl::StrCat("entering ", run.lock, ": ", ErrnoName(-rc)));
    if (st.Inside().fetch_add(1) != 0) st.Overlaps().fetch_add(1);
    if (r == 0) st.Entered(me);
    uint64_t none = 0;
    if (r == 0 && st.Holder().compare_exchange_strong(none, static_cast<uint64_t>(me) + 1)) {
      if (Verdict v = HoldUntilOthersWait(run, st, me, deadline); !v.ok()) return v;
    }
    if (int rc = section->Increment(st.Count()); rc != 0)
      return Verdict::Broken(absl::StrCat("the update inside: ", ErrnoName(-rc)));
    st.Inside().fetch_sub(1);
    if (int rc = section->Leave(); rc != 0)
      return Verdict::Fail(absl::StrCat("leaving ", run.lock, ": ", ErrnoName(-rc)));
  }
  st.Finished(me);
  return Verdict::Pass();
}

}  // namespace

Verdict CheckExclusion(const ExclusionRun& run, const OpenSection& open, const CaseEnv& env) {
  const Deadline deadline = CaseDeadline(env);
  ExclusionState st(run.processes);
  ProcessBarrier start(static_cast<uint32_t>(run.processes));
  Participants ps(deadline);
  for (int p = 0; p < run.processes; ++p) {
    ps.Spawn(absl::StrCat("process ", p),
             [&, p] { return ExclusionRounds(run, open, st, start, p, deadline); });
  }
  if (Verdict v = ps.Join(); !v.ok()) return v;
  const uint64_t total = run.total ? run.total() : *st.Count();
  const uint64_t want = static_cast<uint64_t>(run.processes) * static_cast<uint64_t>(run.rounds);
  const uint64_t overlaps = st.Overlaps().load();
  if (overlaps != 0 || total != want) {
    return Verdict::Fail(absl::StrFormat(
        "%d processes x %d updates under %s: count %d, expected %d; %d critical sections "
        "overlapped",
        run.processes, run.rounds, run.lock, total, want, overlaps));
  }
  return Verdict::Pass();
}

std::vector<std::byte> Record(uint32_t writer, uint32_t seq, size_t len) {
  std::vector<std::byte> out(len);
  const uint16_t w = static_cast<uint16_t>(writer), s = static_cast<uint16_t>(seq);
  const uint16_t l = static_cast<uint16_t>(len);
  const uint16_t header[4] = {kMagic, w, s, l};
  std::memcpy(out.data(), header, std::min(len, sizeof(header)));
  for (size_t i = kRecordHeader; i < len; ++i) out[i] = std::byte{PatternByte(writer, seq, i)};
  return out;
}

std::string ParseRecords(const std::vector<std::byte>& data,
                         std::map<uint32_t, std::vector<uint32_t>>* seen,
                         std::map<uint32_t, std::vector<size_t>>* lengths) {
  size_t off = 0;
  while (off < data.size()) {
    if (data.size() - off < kRecordHeader) {
      return absl::StrFormat("offset %d: %d stray bytes, not a record header", off,
                             data.size() - off);
    }
    uint16_t h[4];
    std::memcpy(h, data.data() + off, sizeof(h));
    if (h[0] != kMagic || h[3] < kRecordHeader) {
      return absl::StrFormat(
          "offset %d: no record header (bytes %s): records interleaved or torn", off,
          Hex({data.begin() + off, data.begin() + std::min(off + 8, data.size())}));
    }
    if (off + h[3] > data.size()) {
      return absl::StrFormat("offset %d: record %d of writer %d claims %d bytes, only %d remain",
                             off, h[2], h[1], h[3], data.size() - off);
    }
    for (size_t i = kRecordHeader; i < h[3]; ++i) {
      if (data[off + i] != std::byte{PatternByte(h[1], h[2], i)}) {
        return absl::StrFormat(
            "offset %d: record %d of writer %d (%d bytes) corrupt at byte %d: "
            "interleaved with another write",
            off, h[2], h[1], h[3], i);
      }
    }
    (*seen)[h[1]].push_back(h[2]);
    if (lengths != nullptr) (*lengths)[h[1]].push_back(h[3]);
    off += h[3];
  }
  return "";
}

long BytesQueued(int fd) {
  int n = 0;
  if (::ioctl(fd, FIONREAD, &n) != 0) return -errno;
  return n;
}

long FillNonBlocking(int fd, size_t chunk) {
  std::vector<char> buf(chunk, 'x');
  long total = 0;
  for (;;) {
    ssize_t n = ::write(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EAGAIN) return total;
      if (errno == EINTR) continue;
      return -errno;
    }
    total += n;
  }
}

std::vector<std::byte> DrainNonBlocking(int fd) {
  std::vector<std::byte> out;
  std::byte buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return out;
    }
    out.insert(out.end(), buf, buf + n);
  }
}

std::string Hex(const std::vector<std::byte>& b, size_t max) {
  std::string s;
  for (size_t i = 0; i < b.size() && i < max; ++i) {
    absl::StrAppend(&s, absl::StrFormat("%02x", static_cast<unsigned>(b[i])));
  }
  if (b.size() > max) s += "...";
  return s;
}

}  // namespace ipcspec::props
