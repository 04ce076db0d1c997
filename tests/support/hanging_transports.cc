// Deliberately hanging transports: a wrapper around the built-in pipe whose
// Recv blocks for ever in one situation.
#include "tests/support/hanging_transports.h"

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "ipcspec/registry.h"
#include "ipcspec/transport.h"

namespace ipcspec::testing {
namespace {

enum class Hang { kAfterKill, kIgnoresTimeout };

class HangingEnd : public End {
 public:
  HangingEnd(std::unique_ptr<End> inner, Hang hang) : inner_(std::move(inner)), hang_(hang) {}
  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    return inner_->Send(buf, sent, timeout_ms);
  }
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    if (hang_ == Hang::kIgnoresTimeout) return inner_->Recv(buf, received, -1);
    const int rc = inner_->Recv(buf, received, timeout_ms);
    if (rc == kEnd) {
      for (;;) ::pause();  // the end of stream never arrives
    }
    return rc;
  }

 private:
  std::unique_ptr<End> inner_;
  Hang hang_;
};

class HangingChannel : public Channel {
 public:
  HangingChannel(std::unique_ptr<Channel> inner, Hang hang)
      : inner_(std::move(inner)), hang_(hang) {}
  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    absl::StatusOr<std::unique_ptr<End>> end = inner_->Open(role);
    if (!end.ok()) return end.status();
    return std::unique_ptr<End>(std::make_unique<HangingEnd>(*std::move(end), hang_));
  }
  void Detach() override { inner_->Detach(); }
  absl::Status Destroy() override { return inner_->Destroy(); }

 private:
  std::unique_ptr<Channel> inner_;
  Hang hang_;
};

class HangingTransport : public Transport {
 public:
  HangingTransport(std::string name, Hang hang, const Transport* inner)
      : name_(std::move(name)), hang_(hang), inner_(inner) {}
  std::string_view name() const override { return name_; }
  const Capabilities& caps() const override { return inner_->caps(); }
  std::string_view description() const override {
    return hang_ == Hang::kAfterKill ? "pipe whose recv never returns after its writer died"
                                     : "pipe whose recv ignores its timeout";
  }
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& scratch) const override {
    absl::StatusOr<std::unique_ptr<Channel>> ch = inner_->Create(scratch);
    if (!ch.ok()) return ch.status();
    return std::unique_ptr<Channel>(std::make_unique<HangingChannel>(*std::move(ch), hang_));
  }

 private:
  std::string name_;
  Hang hang_;
  const Transport* inner_;
};

}  // namespace

void RegisterHangingTransports() {
  TransportRegistry& reg = TransportRegistry::Global();
  const Transport* pipe = reg.Find("pipe");
  if (pipe == nullptr) std::abort();
  for (auto [name, hang] : {std::pair{"hang_after_kill", Hang::kAfterKill},
                            std::pair{"hang_ignores_timeout", Hang::kIgnoresTimeout}}) {
    if (reg.Find(name) != nullptr) continue;
    if (!reg.Add(std::make_unique<HangingTransport>(name, hang, pipe), /*builtin=*/false).ok()) {
      std::abort();
    }
  }
}

}  // namespace ipcspec::testing
