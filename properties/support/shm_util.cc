#include "properties/support/shm_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/child_watch.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {

std::string SayPages(uint64_t v) { return absl::StrCat(v, v == 1 ? " page" : " pages"); }
std::string SayMode(uint64_t v) { return absl::StrFormat("0%o", v); }

Applicability ForShm(const Transport& t) {
  return OnlyFor(t, {"sysv_shm", "posix_shm"},
                 "SHM-* checks shmget/shmat and shm_open/mmap themselves");
}
Applicability ForSysv(const Transport& t) {
  return OnlyFor(t, {"sysv_shm"}, "SHM-* checks a System V shmat/shmctl rule here");
}
Applicability ForPosix(const Transport& t) {
  return OnlyFor(t, {"posix_shm"}, "SHM-* checks a POSIX shm_open/mmap rule here");
}
bool IsSysv(const Transport& t) { return t.name() == "sysv_shm"; }

NamedObject::~NamedObject() {
  if (::getpid() == creator) {
    const int saved = errno;
    ::shm_unlink(name.c_str());
    errno = saved;
  }
}

bool NamedObject::Create(uint64_t size) {
  fd = FileDescriptor(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
  return fd && ::ftruncate(fd.get(), static_cast<off_t>(size)) == 0;
}

int NamedObject::Reopen(int flags) const { return ::shm_open(name.c_str(), flags, 0600); }

Mapping::Mapping(void* p, size_t len, bool shm)
    : p_(p == MAP_FAILED ? nullptr : p), len_(len), shm_(shm) {}
Mapping::Mapping(Mapping&& o) noexcept : p_(o.p_), len_(o.len_), shm_(o.shm_) { o.p_ = nullptr; }
Mapping& Mapping::operator=(Mapping&& o) noexcept {
  if (this != &o) {
    reset();
    p_ = o.p_;
    len_ = o.len_;
    shm_ = o.shm_;
    o.p_ = nullptr;
  }
  return *this;
}
Mapping::~Mapping() { reset(); }
void* Mapping::release() {
  void* p = p_;
  p_ = nullptr;
  return p;
}
void Mapping::reset() {
  if (p_ != nullptr) {
    const int saved = errno;
    if (shm_) {
      ::shmdt(p_);
    } else {
      ::munmap(p_, len_);
    }
    errno = saved;
  }
  p_ = nullptr;
}

std::optional<Verdict> CreateMapped(NamedObject& obj, uint64_t size, Mapping& m, uint64_t map_len) {
  if (!obj.Create(size)) return Verdict::Broken(absl::StrCat("shm_open: ", ErrnoName(errno)));
  m = MapShared(obj.fd.get(), map_len != 0 ? map_len : size);
  if (!m.ok()) return Verdict::Broken(absl::StrCat("mmap: ", ErrnoName(errno)));
  return std::nullopt;
}

std::optional<Verdict> CreateFilled(NamedObject& obj, uint64_t size) {
  Mapping m;
  if (auto broken = CreateMapped(obj, size, m)) return broken;
  Fill(m.bytes(), size, 1, 0);
  return std::nullopt;
}

Mapping MapShared(int fd, size_t len, int prot) {
  return Mapping(::mmap(nullptr, len, prot != 0 ? prot : PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
                 len);
}

Mapping Attach(int id, int flags, const void* at) {
  void* p = ::shmat(id, at, flags);
  struct shmid_ds ds = {};
  const size_t len = ::shmctl(id, IPC_STAT, &ds) == 0 ? ds.shm_segsz : 0;
  return Mapping(p == reinterpret_cast<void*>(-1) ? MAP_FAILED : p, len, /*shm=*/true);
}

SysvId::~SysvId() {
  if (id_ >= 0) {
    const int saved = errno;
    ::shmctl(id_, IPC_RMID, nullptr);
    errno = saved;
  }
}

key_t FreshKey() {
  const std::string name = UniqueName("key");
  return static_cast<key_t>(std::hash<std::string>{}(name)&0x3fffffff) | 1;
}

int Nattch(int id) {
  struct shmid_ds ds = {};
  return ::shmctl(id, IPC_STAT, &ds) == 0 ? static_cast<int>(ds.shm_nattch) : -errno;
}

void Fill(uint8_t* p, uint64_t n, uint32_t writer, uint64_t msg) {
  for (uint64_t b = 0; b < n; ++b) p[b] = PatternByte(writer, msg, b);
}

std::string Mismatch(const uint8_t* p, uint64_t n, uint32_t writer, uint64_t msg) {
  for (uint64_t b = 0; b < n; ++b) {
    if (p[b] != PatternByte(writer, msg, b)) {
      return absl::StrFormat("byte %d is 0x%02x, expected 0x%02x", b, p[b],
                             PatternByte(writer, msg, b));
    }
  }
  return "";
}

std::string NotZero(const uint8_t* p, uint64_t n) {
  for (uint64_t b = 0; b < n; ++b) {
    if (p[b] != 0) return absl::StrFormat("byte %d is 0x%02x, expected 0", b, p[b]);
  }
  return "";
}

int TouchInChild(const std::function<void()>& touch, const Deadline& deadline) {
  const pid_t pid = ForkChild([&] {
    DefaultSignalAction(SIGSEGV);
    DefaultSignalAction(SIGBUS);
    touch();
    return 0;
  });
  int status = 0;
  if (pid < 0) return -1;
  if (!WaitChild(pid, 0, deadline, &status)) {
    KillAndReap(pid);
    return -1;
  }
  return status;
}

rc::Gen<uint64_t> ShmSize() {
  const uint64_t page = Page();
  return rc::gen::weightedOneOf<uint64_t>({
      {2, rc::gen::elementOf(std::vector<uint64_t>{1, 8, page - 1, page, page + 1, 2 * page,
                                                   3 * page - 1, 16 * page})},
      {1, rc::gen::inRange<uint64_t>(1, 16 * page)},
  });
}

rc::Gen<uint64_t> SegmentSize() {
  return rc::gen::weightedOneOf<uint64_t>({
      {2, rc::gen::elementOf(std::vector<uint64_t>{1, 8, 4095, 4096, 4097, 65536})},
      {1, rc::gen::inRange<uint64_t>(1, 200000)},
  });
}

const SegmentKind& KindFor(const Transport& t) {
  return IsSysv(t) ? SysvSegments() : PosixSegments();
}

}  // namespace ipcspec::props
