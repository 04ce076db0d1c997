// The leftover cleaner (fuzz/fuzz_leftovers.h): a directory a process asked
// to have removed goes once that process is gone, however it ends (here
// SIGKILL, and _exit, which runs no atexit handler either), and not before.
// (The fuzz build proves the same on real targets stopped by SIGTERM and
// SIGINT: fuzz/stop_signal_test.sh.)
#include "fuzz/fuzz_leftovers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "ipcspec/util.h"

namespace ipcspec {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// A directory with a file and a subdirectory holding a file.
std::string MakeTree() {
  const std::string dir = MakeTempDir("left");
  if (dir.empty()) return "";
  if (::mkdir((dir + "/sub").c_str(), 0700) != 0) return "";
  for (const char* f : {"/file", "/sub/file"}) {
    const int fd = ::open((dir + f).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return "";
    ::close(fd);
  }
  return dir;
}

// Forks a process that starts a cleaner, asks it to remove `dir`, says
// "ready" on its stdout, waits to be told to go and ends by `how` (a
// signal, or 0 for _exit). Returns whether `dir` was still there while the
// process lived, and the wait status.
void RunAndEnd(const std::string& dir, int how, bool* there_at_ready, int* status) {
  int out[2], go[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(go[1]);
    ::dup2(out[1], 1);
    if (!StartLeftoverCleaner().empty()) ::_exit(3);
    RemoveWhenGone(dir);
    if (::write(1, "ready", 5) != 5) ::_exit(4);
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(5);
    if (how != 0) ::kill(::getpid(), how);
    ::_exit(0);
  }
  ::close(out[1]);
  ::close(go[0]);
  char buf[16];
  ASSERT_EQ(::read(out[0], buf, 5), 5);
  *there_at_ready = Exists(dir);  // the process waits for the go below
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  ::close(go[1]);
  // To the end of the output: the cleaner holds it until it is done.
  while (::read(out[0], buf, sizeof buf) > 0) {
  }
  ::close(out[0]);
  ASSERT_EQ(::waitpid(pid, status, 0), pid);
}

TEST(LeftoverCleanerTest, RemovesTheTreeAfterSigkill) {
  const std::string dir = MakeTree();
  ASSERT_FALSE(dir.empty());
  bool there = false;
  int status = 0;
  RunAndEnd(dir, SIGKILL, &there, &status);
  EXPECT_TRUE(there) << "removed while its owner was alive";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_FALSE(Exists(dir + "/sub/file"));
  EXPECT_FALSE(Exists(dir)) << dir << " left behind";
}

TEST(LeftoverCleanerTest, RemovesTheTreeAfterExitWithoutAtexit) {
  const std::string dir = MakeTree();
  ASSERT_FALSE(dir.empty());
  bool there = false;
  int status = 0;
  RunAndEnd(dir, 0, &there, &status);
  EXPECT_TRUE(there);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(Exists(dir)) << dir << " left behind";
}

}  // namespace
}  // namespace ipcspec
