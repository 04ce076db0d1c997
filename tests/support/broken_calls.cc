#include "tests/support/broken_calls.h"

#include <sys/eventfd.h>

#include <cstring>
#include <utility>

#include "ipcspec/util.h"

namespace ipcspec::testing {
namespace {

class CallBugEnd : public End {
 public:
  CallBugEnd(std::unique_ptr<End> inner, Role role, Bug bug) : inner_(std::move(inner)), bug_(bug) {
    // The bug: its wake-ups' descriptor, made without EFD_CLOEXEC.
    if (bug == Bug::kEndNotCloexec && role == Role::kWriter) {
      doorbell_ = FileDescriptor(::eventfd(0, EFD_NONBLOCK));
    }
  }

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    if (bug_ == Bug::kLongBoundInvalid && timeout_ms >= 1000) {
      *sent = 0;
      return -EINVAL;  // what mq_timedsend says of a tv_nsec of a billion or more
    }
    if (bug_ == Bug::kLengthByteEscape && buf.size() == 255) {
      const int rc = inner_->Send(buf.first(0), sent, timeout_ms);
      *sent = rc == 0 ? buf.size() : 0;
      return rc;
    }
    return inner_->Send(buf, sent, timeout_ms);
  }

  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    if (bug_ == Bug::kSpinsInBoundedWait && timeout_ms > 0) {
      return RecvSpinning(buf, received, timeout_ms);
    }
    const int rc = inner_->Recv(buf, received, timeout_ms);
    if (bug_ == Bug::kCounterGivesOne && rc == 0 && *received == sizeof(uint64_t)) {
      GiveBackAllButOne(buf);
    }
    return rc;
  }

 private:
  // kSpinsInBoundedWait: looks again and again, never sleeping, until the
  // bound has passed.
  int RecvSpinning(std::span<std::byte> buf, size_t* received, int timeout_ms) {
    const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
    for (;;) {
      const int rc = inner_->Recv(buf, received, 0);
      if (rc != -EAGAIN) return rc;
      if (deadline.Passed()) return -ETIMEDOUT;
    }
  }
  // kCounterGivesOne: the sum taken is put back less one, and 1 is what
  // the read returns.
  void GiveBackAllButOne(std::span<std::byte> buf) {
    uint64_t v = 0;
    std::memcpy(&v, buf.data(), sizeof v);
    if (v <= 1) return;
    uint64_t rest = v - 1, one = 1;
    size_t n = 0;
    (void)inner_->Send(std::as_bytes(std::span(&rest, 1)), &n, 0);
    std::memcpy(buf.data(), &one, sizeof one);
  }

  std::unique_ptr<End> inner_;
  Bug bug_;
  FileDescriptor doorbell_;
};

}  // namespace

std::unique_ptr<End> WrapCallBug(std::unique_ptr<End>& inner, Role role, Bug bug) {
  switch (bug) {
    case Bug::kSpinsInBoundedWait:
    case Bug::kCounterGivesOne:
    case Bug::kEndNotCloexec:
    case Bug::kLongBoundInvalid:
    case Bug::kLengthByteEscape:
      return std::make_unique<CallBugEnd>(std::move(inner), role, bug);
    default:
      return nullptr;
  }
}

}  // namespace ipcspec::testing
