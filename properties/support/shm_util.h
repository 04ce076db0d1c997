// properties/support/shm_util.h: what the SHM-* properties share: RAII for
// a named POSIX object, a mapping, a System V id and an attach; pattern
// bytes written and checked in place; applicability by transport; a SysV key
// no one else uses; and a forked child whose death by a signal (SIGSEGV,
// SIGBUS) is the observation.
//
//   NamedObject obj;
//   if (!obj.Create(size)) return Verdict::Broken(...);
//   Mapping m(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, obj.fd.get(), 0), size);
//   Fill(m.bytes(), size, 1, 0);
//   int status = TouchInChild([&] { m.bytes()[size + 1] = 1; }, CaseDeadline(env));
//   if (!IsKilledBy(status, SIGBUS)) ...
#ifndef IPCSPEC_PROPERTIES_SUPPORT_SHM_UTIL_H_
#define IPCSPEC_PROPERTIES_SUPPORT_SHM_UTIL_H_

#include <sys/ipc.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "ipcspec/property.h"
#include "ipcspec/util.h"
#include "properties/support/common.h"
#include "properties/support/shm_sem.h"

namespace ipcspec::props {

// "1 page" or "N pages"; a mode in octal ("0600").
std::string SayPages(uint64_t v);
std::string SayMode(uint64_t v);

// SHM-* apply to both shm transports, or to the System V or POSIX one.
Applicability ForShm(const Transport& t);
Applicability ForSysv(const Transport& t);
Applicability ForPosix(const Transport& t);
bool IsSysv(const Transport& t);

// A named POSIX shm object, 0600, unlinked by the process that made it.
struct NamedObject {
  std::string name = UniqueName("/ipcspec-shm");
  FileDescriptor fd;
  pid_t creator = ::getpid();
  NamedObject() = default;
  NamedObject(const NamedObject&) = delete;
  NamedObject& operator=(const NamedObject&) = delete;
  ~NamedObject();
  // shm_open(O_CREAT|O_EXCL) and ftruncate(size); false with errno set.
  bool Create(uint64_t size);
  // shm_open of the same name again; the descriptor or -1 with errno.
  int Reopen(int flags) const;
};

// An mmap'ed (or shmat'ed, with shm = true) range, unmapped on destruction.
class Mapping {
 public:
  Mapping() = default;
  Mapping(void* p, size_t len, bool shm = false);
  Mapping(Mapping&& o) noexcept;
  Mapping& operator=(Mapping&& o) noexcept;
  ~Mapping();
  bool ok() const { return p_ != nullptr; }
  uint8_t* bytes() const { return static_cast<uint8_t*>(p_); }
  size_t size() const { return len_; }
  void* release();
  void reset();

 private:
  void* p_ = nullptr;
  size_t len_ = 0;
  bool shm_ = false;
};
// MAP_FAILED / (void*)-1 become an empty Mapping.
Mapping MapShared(int fd, size_t len, int prot = 0);  // 0: read and write
// A new POSIX object of `size` bytes in `obj`, mapped shared (read and
// write) for `map_len` bytes, or its size when 0, into `m`; the Broken
// verdict when a step fails:
//   if (auto broken = CreateMapped(obj, size, m)) return *broken;
std::optional<Verdict> CreateMapped(NamedObject& obj, uint64_t size, Mapping& m,
                                    uint64_t map_len = 0);
// A new POSIX object of `size` bytes in `obj` holding pattern 1 (Fill(p,
// size, 1, 0)), written through a mapping that is gone again on return; the
// Broken verdict when a step fails.
std::optional<Verdict> CreateFilled(NamedObject& obj, uint64_t size);
Mapping Attach(int id, int flags = 0, const void* at = nullptr);

// A System V segment id, removed (IPC_RMID) on destruction if it still exists.
class SysvId {
 public:
  explicit SysvId(int id = -1) : id_(id) {}
  SysvId(const SysvId&) = delete;
  SysvId& operator=(const SysvId&) = delete;
  ~SysvId();
  int get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }

 private:
  int id_;
};
// A key derived from a fresh unique name: no other case uses it.
key_t FreshKey();
// shm_nattch / the whole IPC_STAT, or -errno.
int Nattch(int id);

// Every byte of p[0..n) as PatternByte(writer, msg, .) / the first that is not.
void Fill(uint8_t* p, uint64_t n, uint32_t writer, uint64_t msg);
std::string Mismatch(const uint8_t* p, uint64_t n, uint32_t writer, uint64_t msg);
// "" when p[0..n) is all zero; else the first byte that is not.
std::string NotZero(const uint8_t* p, uint64_t n);

// Forks; the child sets SIGSEGV and SIGBUS to SIG_DFL and runs `touch`, then
// exits 0. The wait status, or -1 when it did not end by the deadline.
int TouchInChild(const std::function<void()>& touch, const Deadline& deadline);

// Raises flag `i` when it goes out of scope, so that a participant that
// gives up early still releases whoever waits for its last step.
class RaiseOnExit {
 public:
  RaiseOnExit(SharedFlags& flags, size_t i) : flags_(flags), i_(i) {}
  ~RaiseOnExit() { flags_.Raise(i_); }
  RaiseOnExit(const RaiseOnExit&) = delete;
  RaiseOnExit& operator=(const RaiseOnExit&) = delete;

 private:
  SharedFlags& flags_;
  size_t i_;
};

// Sizes biased to page edges, 1 .. 16 pages.
rc::Gen<uint64_t> ShmSize();
// Sizes around one page and up to ~200 KB (the older SHM-* properties').
rc::Gen<uint64_t> SegmentSize();
// The segment kind of a transport: shmget/shmat for sysv_shm, else shm_open.
const SegmentKind& KindFor(const Transport& t);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_SHM_UTIL_H_
