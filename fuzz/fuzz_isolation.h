// fuzz/fuzz_isolation.h: where the fuzz targets run their inputs, and what
// an input left behind in the kernel, found as cheaply as exactness allows.
//
// As root, EnterFuzzIsolation moves the fuzzing process into a private IPC
// and mount namespace with its own tmpfs /dev/shm, a tmpfs scratch directory
// and an mqueue file system. Nothing there belongs to anyone but the inputs,
// so after an input "anything present" is a leak, and a few counters tell
// it without reading any file: the SysV in-use counts (MSG_INFO, SHM_INFO,
// SEM_INFO) and the sizes of the three tmpfs-like directories (a size counts
// entries), compared with what they were in the fresh namespace (CountIpcAt,
// ipcspec/inventory.h). Names are listed only when a count moved.
// Without the namespace (not root, IPCSPEC_FUZZ_SHARED=1), the names are
// compared before and after each input instead.
//
//   EnterFuzzIsolation();                 // once, before any thread
//   LeakCheck check;
//   check.Before();
//   ... run the input in FuzzScratchDir() ...
//   std::vector<std::string> left = check.After();   // {"SysV msg key 0x0 id 3"}
#ifndef IPCSPEC_FUZZ_FUZZ_ISOLATION_H_
#define IPCSPEC_FUZZ_FUZZ_ISOLATION_H_

#include <set>
#include <string>
#include <vector>

namespace ipcspec {

// Where permitted (root, before any thread exists), enters the private
// namespace described above. Returns a line saying what it got; idempotent.
std::string EnterFuzzIsolation();
// Whether EnterFuzzIsolation got the private namespace with its own /dev/shm.
bool FuzzIsolated();
// The inputs' scratch directory, $TMPDIR/ipcspec-fuzz-XXXXXX (tmpfs when
// isolated); removed at exit, and by the cleaner (fuzz/fuzz_leftovers.h)
// when the process ends without running atexit handlers.
const std::string& FuzzScratchDir();
// Where the mqueue file system is mounted ("/dev/mqueue" when shared).
const std::string& FuzzMqueueDir();

class LeakCheck {
 public:
  // Shared namespace only: remembers what is there before the input.
  void Before();
  // What appeared since Before() (isolated: whatever is there), each as
  // "SysV msg key 0x0 id 3", "/dev/shm/name", "mqueue /name" or a path in
  // the scratch directory. Isolated, what it names is also removed, so the
  // next input starts from nothing.
  std::vector<std::string> After();

 private:
  std::set<std::string> before_;
};

}  // namespace ipcspec

#endif  // IPCSPEC_FUZZ_FUZZ_ISOLATION_H_
