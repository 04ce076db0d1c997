#include "properties/support/touch_trap.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>
#include <utility>

#include "ipcspec/proc.h"
#include "ipcspec/sandbox.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

// A userfaultfd with the faulting thread's id in each message, or -1.
FileDescriptor OpenUffd() {
  FileDescriptor fd(NewCaseUserfaultfd(O_CLOEXEC | O_NONBLOCK));
  if (!fd) return fd;
  struct uffdio_api api = {};
  api.api = UFFD_API;
  api.features = UFFD_FEATURE_THREAD_ID;
  if (::ioctl(fd.get(), UFFDIO_API, &api) != 0) return FileDescriptor();
  return fd;
}

// Whether thread `tid` of this process waits on a touch it made in user
// space: /proc's syscall file says -1 (no system call) for a thread that
// faulted outside one, and the call's number for a thread whose kernel
// copy touched the page. A file that cannot be read says no.
bool TouchedInUserSpace(uint32_t tid) { return CurrentSyscall(static_cast<pid_t>(tid)) == -1; }

}  // namespace

bool TouchTrap::Available() {
  static const bool available = static_cast<bool>(OpenUffd());
  return available;
}

std::unique_ptr<TouchTrap> TouchTrap::Arm(std::span<const std::byte> payload,
                                          std::function<void()> on_touched) {
  if (payload.empty() || !Available()) return nullptr;
  FileDescriptor uffd = OpenUffd();
  FileDescriptor stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!uffd || !stop) return nullptr;
  const size_t page = Page();
  const size_t mapped = (payload.size() + page - 1) / page * page;
  void* base = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  struct uffdio_register reg = {};
  reg.range.start = reinterpret_cast<uint64_t>(base);
  reg.range.len = mapped;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (::ioctl(uffd.get(), UFFDIO_REGISTER, &reg) != 0) {
    ::munmap(base, mapped);
    return nullptr;
  }
  std::vector<std::byte> padded(mapped);
  std::copy(payload.begin(), payload.end(), padded.begin());
  std::unique_ptr<TouchTrap> trap(new TouchTrap(std::move(uffd), std::move(stop),
                                                static_cast<std::byte*>(base), payload.size(),
                                                mapped, std::move(padded)));
  try {
    trap->server_ = std::thread([t = trap.get(), f = std::move(on_touched)] { t->Serve(f); });
  } catch (const std::system_error&) {
    return nullptr;  // no thread to serve it: the destructor unmaps
  }
  return trap;
}

TouchTrap::TouchTrap(FileDescriptor uffd, FileDescriptor stop, std::byte* base, size_t size,
                     size_t mapped, std::vector<std::byte> payload)
    : uffd_(std::move(uffd)),
      stop_(std::move(stop)),
      base_(base),
      size_(size),
      mapped_(mapped),
      payload_(std::move(payload)) {}

TouchTrap::~TouchTrap() {
  Release();
  uffd_ = FileDescriptor();
  ::munmap(base_, mapped_);
}

void TouchTrap::Release() {
  if (server_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    server_.join();
  }
  // Any thread still waiting on a page gets the page's bytes and goes on.
  for (size_t at = 0; at < mapped_; at += Page()) Fill(reinterpret_cast<uint64_t>(base_) + at);
}

void TouchTrap::Serve(std::function<void()> on_touched) {
  bool touched = false;
  for (;;) {
    struct pollfd fds[2] = {{uffd_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    struct uffd_msg msg;
    while (::read(uffd_.get(), &msg, sizeof msg) == static_cast<ssize_t>(sizeof msg)) {
      if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
      if (!touched && TouchedInUserSpace(msg.arg.pagefault.feat.ptid)) {
        touched = true;  // the thread stays where it is, for good
        on_touched();
        continue;
      }
      Fill(msg.arg.pagefault.address);
    }
  }
}

void TouchTrap::Fill(uint64_t address) {
  const size_t page = Page();
  const uint64_t at = address & ~static_cast<uint64_t>(page - 1);
  struct uffdio_copy copy = {};
  copy.dst = at;
  copy.src = reinterpret_cast<uint64_t>(payload_.data() + (at - reinterpret_cast<uint64_t>(base_)));
  copy.len = page;
  if (::ioctl(uffd_.get(), UFFDIO_COPY, &copy) != 0 && errno == EEXIST) {
    struct uffdio_range range = {at, page};
    (void)::ioctl(uffd_.get(), UFFDIO_WAKE, &range);
  }
}

}  // namespace ipcspec::props
