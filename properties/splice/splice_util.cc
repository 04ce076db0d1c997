#include "properties/splice/splice_util.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "properties/support/pipe_util.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {

Applicability ForSplice(const Transport& t) {
  return OnlyFor(t, {"pipe", "fifo"}, "SPLICE-* checks splice/tee/vmsplice on pipes themselves");
}

FileDescriptor ScratchFile(const CaseEnv& env, const std::vector<std::byte>& content, int flags) {
  const std::string path = absl::StrCat(env.scratch_dir, "/", UniqueName("file"));
  FileDescriptor fd(::open(path.c_str(), flags | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  ::unlink(path.c_str());
  if (fd && !content.empty() && ::pwrite(fd.get(), content.data(), content.size(), 0) < 0)
    return FileDescriptor();
  return fd;
}

Verdict FileAndPipeProperty::Run(const Transport& t, const Scenario& s, const CaseEnv& env) const {
  const std::vector<std::byte> data = PipeBytes(msg_, size_);
  FileDescriptor file = ScratchFile(env, data);
  if (!file) return Verdict::Broken(absl::StrCat("scratch file: ", ErrnoName(errno)));
  PipeFds p;
  Verdict broken;
  if (!NewFilledPipe(t, env.scratch_dir, data, &p, &broken)) return broken;
  return RunOn(file, p, data, s);
}

off_t Position(int fd) { return ::lseek(fd, 0, SEEK_CUR); }

std::vector<std::byte> ReadAt(int fd, off_t off, size_t n) {
  std::vector<std::byte> out(n);
  const ssize_t got = ::pread(fd, out.data(), n, off);
  out.resize(std::max<ssize_t>(got, 0));
  return out;
}

rc::Gen<uint64_t> SpliceSize() {
  return rc::gen::oneOf(
      rc::gen::elementOf(std::vector<uint64_t>{1, PIPE_BUF - 1, PIPE_BUF, PIPE_BUF + 1}),
      rc::gen::inRange<uint64_t>(1, 3 * PIPE_BUF));
}

}  // namespace ipcspec::props
