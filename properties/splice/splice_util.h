// properties/splice/splice_util.h: what the SPLICE-*, TEE-* and VMSPLICE-*
// properties share: their applicability, a scratch file with given content,
// reading a file back, sizes around PIPE_BUF, and the base of a property
// that works on a file and a pipe holding the same bytes.
//
//   FileDescriptor file = ScratchFile(env, PipeBytes(1, 100));   // O_RDWR, unlinked
//   ssize_t n = ::splice(file.get(), nullptr, p.w.get(), nullptr, 100, 0);
//   if (ReadAt(file.get(), 0, 100) != ...) ...
#ifndef IPCSPEC_PROPERTIES_SPLICE_SPLICE_UTIL_H_
#define IPCSPEC_PROPERTIES_SPLICE_SPLICE_UTIL_H_

#include <fcntl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ipcspec/property.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/util.h"
#include "properties/support/mech_common.h"
#include "properties/support/property_base.h"

namespace ipcspec::props {

// SPLICE-*, TEE-*, VMSPLICE-* apply to "pipe" and "fifo".
Applicability ForSplice(const Transport& t);
// A regular file in the scratch directory holding `content`, opened with
// `flags` and unlinked at once; empty on failure (errno set).
FileDescriptor ScratchFile(const CaseEnv& env, const std::vector<std::byte>& content,
                           int flags = O_RDWR);
// The file position (lseek SEEK_CUR).
off_t Position(int fd);
// Up to n bytes at `off` (pread); fewer at the end of the file.
std::vector<std::byte> ReadAt(int fd, off_t off, size_t n);
// Sizes biased to PIPE_BUF and its neighbours, 1 .. 3 * PIPE_BUF.
rc::Gen<uint64_t> SpliceSize();

// A SPLICE-* or TEE-* property whose case starts from a scratch file and a
// new pipe of the transport that both hold PipeBytes(msg, size): Run makes
// them (a Broken verdict when it cannot) and hands them to RunOn. Its
// registration gives msg and size (a subclass inherits this constructor):
//
//   IPCSPEC_REGISTER_PROPERTY(TeeEinvalProperty, "TEE-EINVAL",
//                             {.applies = ForSplice, .examples = 6}, /*msg=*/7, /*size=*/300);
class FileAndPipeProperty : public NamedProperty {
 public:
  FileAndPipeProperty(uint64_t msg, size_t size) : msg_(msg), size_(size) {}
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const final;

 protected:
  virtual Verdict RunOn(FileDescriptor& file, PipeFds& p, const std::vector<std::byte>& data,
                        const Scenario& s) const = 0;

 private:
  uint64_t msg_;
  size_t size_;
};

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SPLICE_SPLICE_UTIL_H_
