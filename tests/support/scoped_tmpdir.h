// tests/support/scoped_tmpdir.h: a private TMPDIR for the scope of a test.
//
// Makes an empty 0700 directory under the current TMPDIR (or /tmp), points
// TMPDIR at it, and on destruction restores TMPDIR as it was and removes the
// directory and whatever was made in it. What code under test creates "in
// TMPDIR" can then be counted and nothing of it outlives the test:
//
//   ScopedTmpdir tmp;
//   auto pending = PendingCase::Fork(options, work);   // its scratch goes in tmp.path()
//   EXPECT_THAT(ListDir(tmp.path()), Not(IsEmpty()));
#ifndef IPCSPEC_TESTS_SUPPORT_SCOPED_TMPDIR_H_
#define IPCSPEC_TESTS_SUPPORT_SCOPED_TMPDIR_H_

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "ipcspec/util.h"

namespace ipcspec::testing {

class ScopedTmpdir {
 public:
  ScopedTmpdir() {
    const char* old = std::getenv("TMPDIR");
    if (old != nullptr) saved_ = old;
    path_ = MakeTempDir("ipcspec-test");
    if (!path_.empty()) ::setenv("TMPDIR", path_.c_str(), 1);
  }
  ~ScopedTmpdir() {
    if (saved_) {
      ::setenv("TMPDIR", saved_->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScopedTmpdir(const ScopedTmpdir&) = delete;
  ScopedTmpdir& operator=(const ScopedTmpdir&) = delete;

  // Empty if the directory could not be made (TMPDIR is then unchanged).
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::optional<std::string> saved_;
};

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_SCOPED_TMPDIR_H_
