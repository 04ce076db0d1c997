// FIFO-* node rules: mknod(S_IFIFO)/mkfifo make a FIFO with perm & ~umask and
// no privilege; an existing path gives EEXIST; O_TRUNC is ignored and
// truncate/ftruncate fail with EINVAL. The pipe behind the node is in
// fifo_pipe_props.cc.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/fifo_node.h"
#include "properties/support/fifo_property.h"
#include "properties/support/mech_common.h"
#include "properties/support/pipe_util.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace fifo_node_props {

enum Api { kMkfifo, kMkfifoat, kMknod, kMknodat };
constexpr std::string_view kApis[] = {"mkfifo", "mkfifoat", "mknod(S_IFIFO)", "mknodat(S_IFIFO)"};
std::string SayPermissions(uint64_t v) { return absl::StrFormat("0%03o", v); }

// Makes a FIFO at dir/name with `api`; 0 or -errno.
int MakeFifo(int api, const std::string& dir, const std::string& name, mode_t perm) {
  const std::string path = absl::StrCat(dir, "/", name);
  int r = -1;
  if (api == kMkfifo) r = ::mkfifo(path.c_str(), perm);
  if (api == kMknod) r = ::mknod(path.c_str(), S_IFIFO | perm, 0);
  if (api == kMkfifoat || api == kMknodat) {
    FileDescriptor d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d) return -errno;
    r = api == kMkfifoat ? ::mkfifoat(d.get(), name.c_str(), perm)
                         : ::mknodat(d.get(), name.c_str(), S_IFIFO | perm, 0);
  }
  return r == 0 ? 0 : -errno;
}

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }
std::string DirName(const std::string& path) { return path.substr(0, path.rfind('/')); }

// Exit codes of the FIFO-MKNOD child.
enum MknodExit { kMknodOk, kMknodType = 250, kMknodPerm, kMknodPipe };

class MknodProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    FifoNode node(env.scratch_dir, /*make=*/false);
    const int api = api_.Of(s);
    const mode_t perm = perm_.Of(s), mask = umask_.Of(s);
    const pid_t pid = ForkChild([&]() -> int {
      ::umask(mask);
      if (int r = MakeFifo(api, env.scratch_dir, BaseName(node.path()), perm); r < 0) return -r;
      struct stat st = {};
      if (::lstat(node.path().c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) return kMknodType;
      if ((st.st_mode & 07777) != (perm & ~mask & 0777)) return kMknodPerm;
      if (::chmod(node.path().c_str(), 0600) != 0) return kMknodPipe;
      FileDescriptor r(node.Open(O_RDONLY | O_NONBLOCK)), w(node.Open(O_WRONLY));
      char buf[5] = {};
      if (!r || !w || ::write(w.get(), "fifo!", 5) != 5 || ::read(r.get(), buf, 5) != 5)
        return kMknodPipe;
      return kMknodOk;
    });
    int status = 0;
    if (pid < 0 || !WaitChild(pid, 0, CaseDeadline(env), &status)) {
      KillAndReap(pid);
      return Verdict::Broken("the creating child did not finish");
    }
    const std::string what =
        absl::StrFormat("%s with permissions %s under umask %s", api_.Name(api),
                        SayPermissions(perm), SayPermissions(mask));
    if (!WIFEXITED(status))
      return Verdict::Fail(what + ": the child " + DescribeWaitStatus(status));
    switch (const int code = WEXITSTATUS(status)) {
      case kMknodOk:
        return Verdict::Pass();
      case kMknodType:
        return Verdict::Fail(what + " made something that is not a FIFO");
      case kMknodPerm: {
        struct stat st = {};
        ::lstat(node.path().c_str(), &st);
        return Verdict::Fail(absl::StrFormat("%s: the node has permissions %s, expected %s", what,
                                             SayPermissions(st.st_mode & 07777),
                                             SayPermissions(perm & ~mask & 0777)));
      }
      case kMknodPipe:
        return Verdict::Fail(what + ": the node does not carry data like a pipe");
      default:
        return Verdict::Fail(absl::StrCat(what, " failed with ", ErrnoName(code)));
    }
  }

  const ChoiceParam<int> api_{this, 0, "the node is made with %s", kMkfifo, kApis};
  const Param<int> perm_{
      this,          1, "the permissions asked for are %s", 0600, rc::gen::inRange(0, 01000),
      SayPermissions};
  const Param<int> umask_{this,          2, "the umask is %s", 022, rc::gen::inRange(0, 01000),
                          SayPermissions};
};
IPCSPEC_REGISTER_PROPERTY(MknodProperty, "FIFO-MKNOD", {.applies = ForFifo, .examples = 15});

enum Existing { kRegular, kFifo, kDangling, kSymlinkToFile, kDirectory };
constexpr std::string_view kExisting[] = {"a regular file", "a FIFO", "a dangling symbolic link",
                                          "a symbolic link to a file", "a directory"};

class EexistProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override;

  const ChoiceParam<int> existing_{this, 0, "the path already holds %s", kRegular, kExisting};
  const ChoiceParam<int> api_{this, 1, "the node is made with %s", kMkfifo, kApis};
};
IPCSPEC_REGISTER_PROPERTY(EexistProperty, "FIFO-EEXIST", {.applies = ForFifo, .examples = 15});

Verdict EexistProperty::Run(const Transport&, const Scenario& s, const CaseEnv& env) const {
  FifoNode node(env.scratch_dir, /*make=*/false);
  FifoNode target(env.scratch_dir, /*make=*/false);  // a symbolic link's target file
  const std::string& path = node.path();
  const int existing = existing_.Of(s);
  const std::vector<std::byte> content = PipeBytes(3, 100);
  int made = -1;
  if (existing == kRegular || existing == kSymlinkToFile) {
    const std::string& file = existing == kRegular ? path : target.path();
    FileDescriptor f(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    made = f && WriteFull(f.get(), content.data(), content.size()) == 0 ? 0 : -1;
    if (made == 0 && existing == kSymlinkToFile) made = ::symlink(file.c_str(), path.c_str());
  } else if (existing == kFifo) {
    made = ::mkfifo(path.c_str(), 0600);
  } else if (existing == kDangling) {
    made = ::symlink(target.path().c_str(), path.c_str());
  } else {
    made = ::mkdir(path.c_str(), 0700);
  }
  if (made != 0)
    return Verdict::Broken(absl::StrCat("making the existing node: ", ErrnoName(errno)));
  struct stat before = {};
  ::lstat(path.c_str(), &before);
  const int r = MakeFifo(api_.Of(s), DirName(path), BaseName(path), 0600);
  struct stat after = {};
  const bool gone = ::lstat(path.c_str(), &after) != 0;
  std::string failure;
  if (r != -EEXIST) {
    failure = absl::StrFormat("%s over %s %s, expected EEXIST", api_.Name(api_.Of(s)),
                              existing_.Name(existing), r == 0 ? "succeeded" : ErrnoName(-r));
  } else if (gone || after.st_ino != before.st_ino || after.st_mode != before.st_mode) {
    failure = absl::StrFormat("the refused %s replaced %s", api_.Name(api_.Of(s)),
                              existing_.Name(existing));
  } else if (existing == kRegular || existing == kSymlinkToFile) {
    std::vector<std::byte> got(content.size() + 1);
    FileDescriptor f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    const ssize_t n = f ? ::read(f.get(), got.data(), got.size()) : -1;
    got.resize(std::max<ssize_t>(n, 0));
    if (got != content) failure = "the refused call changed the existing file's content";
  }
  if (existing == kDirectory) ::rmdir(path.c_str());
  return PassUnless(failure);
}

constexpr std::string_view kTruncModes[] = {"O_WRONLY|O_TRUNC", "O_RDWR|O_TRUNC",
                                            "O_RDONLY|O_TRUNC"};

class OtruncProperty final : public QueuedFifoProperty {
  std::vector<std::byte> Queued(const Scenario& s) const override {
    return PipeBytes(1, queued_.Of(s));
  }
  Verdict RunOn(const FifoNode& node, FileDescriptor& r, FileDescriptor&,
                const std::vector<std::byte>& data, const Scenario& s,
                const CaseEnv&) const override {
    const int mode = mode_.Of(s);
    const int acc = mode == 0 ? O_WRONLY : mode == 1 ? O_RDWR : O_RDONLY;
    for (int i = 0; i < opens_.Of(s); ++i) {
      const int fd = node.Open(acc | O_TRUNC | O_NONBLOCK);
      if (fd < 0) {
        return Verdict::Fail(absl::StrFormat("open(%s|O_NONBLOCK) of the FIFO %s", mode_.Name(mode),
                                             OpenResult(fd)));
      }
      FileDescriptor hold(fd);
    }
    return PassUnless(ExpectExactly(
        r.get(), data, absl::StrFormat("after %d opens with %s", opens_.Of(s), mode_.Name(mode))));
  }

  const BytesParam queued_{this, 0, "%s are queued", 10,
                           rc::gen::inRange<uint64_t>(1, 2 * PIPE_BUF)};
  const ChoiceParam<int> mode_{this, 1, "the FIFO is opened with %s", 0, kTruncModes};
  const Param<int> opens_{this, 2, "it is opened so %s times", 1, rc::gen::inRange(1, 4)};
};
IPCSPEC_REGISTER_PROPERTY(OtruncProperty, "FIFO-OTRUNC", {.applies = ForFifo, .examples = 15});

constexpr std::string_view kTruncCalls[] = {"truncate(path)", "ftruncate(read end)",
                                            "ftruncate(write end)"};

class TruncateProperty final : public QueuedFifoProperty {
  std::vector<std::byte> Queued(const Scenario& s) const override {
    return PipeBytes(2, queued_.Of(s));
  }
  Verdict RunOn(const FifoNode& node, FileDescriptor& r, FileDescriptor& w,
                const std::vector<std::byte>& data, const Scenario& s,
                const CaseEnv&) const override {
    const off_t len = static_cast<off_t>(length_.Of(s));
    const int call = call_.Of(s);
    const int rc = call == 0   ? ::truncate(node.path().c_str(), len)
                   : call == 1 ? ::ftruncate(r.get(), len)
                               : ::ftruncate(w.get(), len);
    if (rc == 0 || errno != EINVAL) {
      return Verdict::Fail(absl::StrFormat("%s to %d of a FIFO %s, not EINVAL", call_.Name(call),
                                           len, Said(rc, errno)));
    }
    struct stat st = {};
    if (::lstat(node.path().c_str(), &st) != 0 || !S_ISFIFO(st.st_mode))
      return Verdict::Fail(absl::StrCat("after ", call_.Name(call), " the node is no FIFO"));
    return PassUnless(ExpectExactly(r.get(), data, absl::StrCat("after ", call_.Name(call))));
  }

  const ChoiceParam<int> call_{this, 0, "the call is %s", 0, kTruncCalls};
  const BytesParam length_{
      this, 1, "the length asked for is %s", 0,
      rc::gen::oneOf(rc::gen::just<uint64_t>(0), rc::gen::inRange<uint64_t>(1, 1u << 20))};
  const BytesParam queued_{this, 2, "%s are queued", 10,
                           rc::gen::inRange<uint64_t>(0, 2 * PIPE_BUF)};
};
IPCSPEC_REGISTER_PROPERTY(TruncateProperty, "FIFO-TRUNCATE", {.applies = ForFifo, .examples = 15});

}  // namespace fifo_node_props
}  // namespace
}  // namespace ipcspec::props
