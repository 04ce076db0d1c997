// properties/support/fifo_node.h: a FIFO node made with mkfifo(3) in the
// case's scratch directory (0600, a unique name) and removed again when the
// object goes away, for the FIFO-* properties that open the node themselves.
//
//   FifoNode node(env.scratch_dir);
//   if (!node.ok()) return Verdict::Broken(absl::StrCat("mkfifo: ", ErrnoName(errno)));
//   const int fd = node.Open(O_RDONLY | O_NONBLOCK);   // a descriptor or -errno
//   if (fd < 0) return Verdict::Fail("open " + OpenResult(fd));
//
//   FileDescriptor r, w;   // or both ends at once, with bytes queued
//   if (!OpenQueued(node, PipeBytes(1, 10), &r, &w, &broken)) return broken;
#ifndef IPCSPEC_PROPERTIES_SUPPORT_FIFO_NODE_H_
#define IPCSPEC_PROPERTIES_SUPPORT_FIFO_NODE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "ipcspec/property.h"
#include "ipcspec/util.h"

namespace ipcspec::props {

class FifoNode {
 public:
  // Makes the node; ok() says whether mkfifo succeeded (errno otherwise).
  explicit FifoNode(const std::string& dir);
  // Only an empty name: the caller makes the node itself (mknod, mkfifoat).
  FifoNode(const std::string& dir, bool make);
  ~FifoNode();
  FifoNode(const FifoNode&) = delete;
  FifoNode& operator=(const FifoNode&) = delete;
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }
  // open(2) on the node with O_CLOEXEC added; the descriptor or -errno.
  int Open(int flags) const;

 private:
  std::string path_;
  bool ok_ = false;
};

// The node's two ends, the reader opened first (O_NONBLOCK, so that opening
// the writer does not wait), then `data` queued. On failure `failure` says
// which step failed (mkfifo, the opens, the write).
bool OpenQueued(const FifoNode& node, const std::vector<std::byte>& data, FileDescriptor* r,
                FileDescriptor* w, Verdict* failure);

// "succeeded" for a descriptor, "failed with ENXIO" for -ENXIO.
std::string OpenResult(int rc);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_FIFO_NODE_H_
