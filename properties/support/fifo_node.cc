#include "properties/support/fifo_node.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "ipcspec/util.h"

namespace ipcspec::props {

FifoNode::FifoNode(const std::string& dir) : FifoNode(dir, true) {}

FifoNode::FifoNode(const std::string& dir, bool make)
    : path_(absl::StrCat(dir, "/", UniqueName("fifo"))) {
  ok_ = !make || ::mkfifo(path_.c_str(), 0600) == 0;
}

FifoNode::~FifoNode() {
  const int saved = errno;
  ::unlink(path_.c_str());
  errno = saved;
}

int FifoNode::Open(int flags) const {
  const int fd = ::open(path_.c_str(), flags | O_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

bool OpenQueued(const FifoNode& node, const std::vector<std::byte>& data, FileDescriptor* r,
                FileDescriptor* w, Verdict* failure) {
  if (!node.ok()) {
    *failure = Verdict::Broken(absl::StrCat("mkfifo: ", ErrnoName(errno)));
    return false;
  }
  r->reset(node.Open(O_RDONLY | O_NONBLOCK));
  w->reset(node.Open(O_WRONLY));
  if (!*r || !*w) {
    *failure = Verdict::Broken("opening the FIFO");
    return false;
  }
  if (WriteFull(w->get(), data.data(), data.size()) < 0) {
    *failure = Verdict::Broken("write");
    return false;
  }
  return true;
}

std::string OpenResult(int rc) {
  return rc >= 0 ? "succeeded" : absl::StrCat("failed with ", ErrnoName(-rc));
}

}  // namespace ipcspec::props
