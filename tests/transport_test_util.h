// tests/transport_test_util.h: helpers for the per-transport tests that fork
// writers and readers. Every wait is for an event (a pipe byte, a pidfd, a
// wait status) and has a deadline, so a bug fails a test instead of hanging
// it, and every child is killed and reaped.
//
//   Gate go;                                     // a one-way pipe
//   Child c = Child::Start([&] { go.Wait(kLong); return 0; });
//   go.Open();                                   // lets the child on
//   EXPECT_EQ(c.Wait(kLong), 0);                 // exit code, or -signal
#ifndef IPCSPEC_TESTS_TRANSPORT_TEST_UTIL_H_
#define IPCSPEC_TESTS_TRANSPORT_TEST_UTIL_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ipcspec/proc.h"
#include "ipcspec/registry.h"
#include "ipcspec/util.h"

namespace ipcspec::testing {

inline constexpr absl::Duration kLong = absl::Seconds(10);

// A pipe one process opens and others wait on; each Open() lets one Wait()
// through (one byte each).
class Gate {
 public:
  Gate() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      r_.reset(fds[0]);
      w_.reset(fds[1]);
    }
  }
  void Open() {
    char c = 1;
    (void)WriteFull(w_.get(), &c, 1);
  }
  // True when a byte came before the timeout.
  bool Wait(absl::Duration timeout) {
    const Deadline deadline = Deadline::After(timeout);
    if (PollOne(r_.get(), POLLIN, deadline) <= 0) return false;
    char c;
    return ::read(r_.get(), &c, 1) == 1;
  }

 private:
  FileDescriptor r_, w_;
};

// A forked child running fn; its return value is the exit code.
class Child {
 public:
  static Child Start(const std::function<int()>& fn) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(fn());
    return Child(pid);
  }
  Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Child(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }

  // Waits for the child to stop (SIGSTOP): the kernel reports the stop to
  // its parent (waitid WSTOPPED; WNOWAIT leaves it to be reported again).
  // False if it died instead.
  bool WaitStopped() const {
    siginfo_t info = {};
    return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WSTOPPED | WEXITED | WNOWAIT) == 0 &&
           info.si_code == CLD_STOPPED;
  }

  // The exit code, -signal if it was killed, or -1000 if it did not end in
  // time (it is killed then).
  int Wait(absl::Duration timeout) {
    FileDescriptor pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    if (!pidfd || PollOne(pidfd.get(), POLLIN, Deadline::After(timeout)) <= 0) return -1000;
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1001;
    pid_ = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? -WTERMSIG(status) : -1002;
  }

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

// A forked child that opens the `role` End of `ch`, drops its own hold on the
// channel (Detach, as ipcspec's participants do) and runs fn(end), whose
// return is the exit code (100: the open failed). The End closes when fn
// returns, unless fn reset it earlier.
inline Child StartEnd(Channel& ch, Role role, const std::function<int(std::unique_ptr<End>&)>& fn) {
  return Child::Start([&ch, role, &fn] {
    absl::StatusOr<std::unique_ptr<End>> end = ch.Open(role);
    if (!end.ok()) return 100;
    ch.Detach();
    return fn(*end);
  });
}

// A forked peer holding the `role` End of `ch`: it runs work(end) (0 to go
// on, else its exit code), closes the End, says so, and stays alive until
// Release(), so the other side sees a close, never a death.
//
//   ClosingPeer reader(*ch, Role::kReader, [&](End&) { return may_close.Wait(kLong) ? 0 : 11; });
//   ASSERT_TRUE(reader.WaitClosed());
//   EXPECT_EQ(reader.Release(), 0);  // the child's exit code
class ClosingPeer {
 public:
  ClosingPeer(Channel& ch, Role role, const std::function<int(End&)>& work)
      : child_(Start(ch, role, work)) {}

  bool WaitClosed() { return closed_.Wait(kLong); }
  int Release() {
    release_.Open();
    return child_.Wait(kLong);
  }
  pid_t pid() const { return child_.pid(); }

 private:
  // The child's life: work, close, say so, wait to be released.
  Child Start(Channel& ch, Role role, const std::function<int(End&)>& work) {
    return StartEnd(ch, role, [&](std::unique_ptr<End>& end) {
      if (int rc = work(*end); rc != 0) return rc;
      end.reset();
      closed_.Open();
      return release_.Wait(kLong) ? 0 : 12;
    });
  }

  Gate closed_, release_;  // before child_: Start uses them
  Child child_;
};

// `n` ClosingPeer writers of `ch`: writer i runs work(i, end).
inline std::vector<ClosingPeer> StartClosingWriters(Channel& ch, int n,
                                                    const std::function<int(int, End&)>& work) {
  std::vector<ClosingPeer> writers;
  writers.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    writers.emplace_back(ch, Role::kWriter, [&work, i](End& end) { return work(i, end); });
  }
  return writers;
}

// Waits until `pid` sleeps inside one of the given system calls
// (ipcspec/proc.h), for at most `timeout`.
inline bool WaitUntilBlockedIn(pid_t pid, std::initializer_list<long> syscalls,
                               absl::Duration timeout) {
  return ::ipcspec::WaitUntilBlockedIn(pid, syscalls, Deadline::After(timeout));
}

inline std::vector<std::byte> Bytes(std::string_view s) {
  std::vector<std::byte> out(s.size());
  for (size_t i = 0; i < s.size(); ++i) out[i] = std::byte(s[i]);
  return out;
}

// Position-dependent bytes: a shifted or torn copy does not match.
inline std::vector<std::byte> Pattern(size_t n, uint32_t seed) {
  std::vector<std::byte> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = std::byte((i * 131 + seed * 7 + (i >> 8)) & 0xff);
  return out;
}

// Sends all of buf (a stream transport may take it in parts). 0 or the error.
inline int SendAll(End& end, std::span<const std::byte> buf, int timeout_ms) {
  size_t done = 0;
  while (done < buf.size()) {
    size_t sent = 0;
    int r = end.Send(buf.subspan(done), &sent, timeout_ms);
    if (r != 0) return r;
    if (sent == 0) return -EIO;
    done += sent;
  }
  return 0;
}

// Receives until end of stream, an error, or `limit` bytes; returns what came
// and sets *last to the final return code (kEnd on a clean end).
inline std::vector<std::byte> RecvUntilEnd(End& end, int* last, int timeout_ms,
                                           size_t limit = SIZE_MAX) {
  std::vector<std::byte> got;
  std::vector<std::byte> buf(65536);
  for (;;) {
    size_t n = 0;
    *last = end.Recv(buf, &n, timeout_ms);
    if (*last != 0) return got;
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(n));
    if (got.size() >= limit) return got;
  }
}

// A private scratch directory, which must be empty again after Destroy().
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/ipcspec-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::unique_ptr<Channel>& ch : channels_) EXPECT_TRUE(ch->Destroy().ok());
    channels_.clear();
    if (::rmdir(dir_.c_str()) != 0) {
      ADD_FAILURE() << dir_ << " is not empty after Destroy()";
      std::filesystem::remove_all(dir_);
    }
  }
  const Transport& Find(std::string_view name) {
    const Transport* t = TransportRegistry::Global().Find(name);
    EXPECT_NE(t, nullptr) << name;
    return *t;
  }
  // A channel of `transport` in the scratch dir, or null (the failure is
  // recorded). It is destroyed, and that checked, when the test ends: after
  // the test's own Ends and children, which are gone by then.
  Channel* CreateChannel(std::string_view transport) {
    absl::StatusOr<std::unique_ptr<Channel>> ch = Find(transport).Create(dir_);
    EXPECT_TRUE(ch.ok()) << ch.status();
    if (!ch.ok()) return nullptr;
    channels_.push_back(*std::move(ch));
    return channels_.back().get();
  }
  std::string dir_;

 private:
  std::vector<std::unique_ptr<Channel>> channels_;
};

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_TRANSPORT_TEST_UTIL_H_
