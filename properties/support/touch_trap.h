// properties/support/touch_trap.h: a copy of a message whose first touch by
// a transport's own code stops the thread that touches it, so that a
// process can be killed at exactly that point: inside whatever the
// transport does while it copies a message (a lock held, a header already
// published), which a kill at a random moment finds in one try of dozens.
//
//   std::unique_ptr<TouchTrap> trap = TouchTrap::Arm(payload, [&] { flags.Raise(kTouched); });
//   end.Send(trap ? trap->bytes() : payload, &n, timeout);  // never returns if touched
//
// The copy is a mapping whose pages are filled only when they are first
// touched (userfaultfd). A touch in user space, by the transport's code,
// stops the thread for good and calls `on_touched` from a thread of the
// trap's own. A touch by the kernel (a write(2) or mq_send(2) copying the
// message) is let through: the page is filled with its bytes and the call
// goes on, as it would in a process that was never trapped. A kill inside
// a kernel copy would be no death a real process meets (write(2) to a pipe
// is atomic up to PIPE_BUF, and a kill cannot land inside the copy).
#ifndef IPCSPEC_PROPERTIES_SUPPORT_TOUCH_TRAP_H_
#define IPCSPEC_PROPERTIES_SUPPORT_TOUCH_TRAP_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "ipcspec/util.h"

namespace ipcspec::props {

class TouchTrap {
 public:
  // Whether this process can arm a trap (userfaultfd, which needs
  // CAP_SYS_PTRACE or vm.unprivileged_userfaultfd, and its thread-id
  // feature); the answer is kept.
  static bool Available();
  // A trapped copy of `payload`; nullptr when it is empty, or when no trap
  // can be armed here.
  static std::unique_ptr<TouchTrap> Arm(std::span<const std::byte> payload,
                                        std::function<void()> on_touched);
  ~TouchTrap();  // Release(), then unmaps
  // Fills every page with the payload's bytes: a thread stopped at its
  // touch goes on, and no touch is reported any more.
  void Release();
  TouchTrap(const TouchTrap&) = delete;
  TouchTrap& operator=(const TouchTrap&) = delete;

  std::span<const std::byte> bytes() const { return {base_, size_}; }

 private:
  TouchTrap(FileDescriptor uffd, FileDescriptor stop, std::byte* base, size_t size, size_t mapped,
            std::vector<std::byte> payload);
  // The trap's thread: serves touches until `stop_` is signalled.
  void Serve(std::function<void()> on_touched);
  // Fills the page of `address` with the payload's bytes, which wakes the
  // thread waiting on it.
  void Fill(uint64_t address);

  FileDescriptor uffd_;
  FileDescriptor stop_;  // an eventfd
  std::byte* base_;
  size_t size_;
  size_t mapped_;
  std::vector<std::byte> payload_;  // page-padded
  std::thread server_;
};

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_TOUCH_TRAP_H_
