// G-FORK: an anonymous transport created before fork works in the children;
// a named transport is reachable from a process that inherited nothing but
// the name (every inherited descriptor closed before it opens).
//
// The oracle for each capability class: the one message arrives whole
// (generic/oracle.h); lossy: it may be lost, never corrupted; counter: the
// value added is the value read. Duplex, capacity, peer-close and realtime
// change nothing here: one small message, no clock.
#include "absl/strings/str_format.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_fork {

// RunActors opens the ends; an actor cuts its inheritance first by
// wrapping the transport's Open in a channel that does so.
class CuttingChannel : public Channel {
 public:
  CuttingChannel(std::unique_ptr<Channel> inner, std::function<void(Role)> cut)
      : inner_(std::move(inner)), cut_(std::move(cut)) {}
  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    cut_(role);
    return inner_->Open(role);
  }
  void Detach() override { inner_->Detach(); }
  absl::Status Destroy() override { return inner_->Destroy(); }

 private:
  std::unique_ptr<Channel> inner_;
  std::function<void(Role)> cut_;
};
class CuttingTransport : public Transport {
 public:
  CuttingTransport(const Transport& t, std::function<void(Role)> cut)
      : t_(t), cut_(std::move(cut)) {}
  std::string_view name() const override { return t_.name(); }
  std::string_view description() const override { return t_.description(); }
  const Capabilities& caps() const override { return t_.caps(); }
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& dir) const override {
    auto ch = t_.Create(dir);
    if (!ch.ok()) return ch.status();
    return std::make_unique<CuttingChannel>(std::move(*ch), cut_);
  }

 private:
  const Transport& t_;
  std::function<void(Role)> cut_;
};

constexpr std::string_view kWho[] = {
    "the writer inherits the channel across fork",
    "the writer opens by name alone, having closed every inherited descriptor (named "
    "transports)"};

class ForkProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      std::vector<Step> steps;
      // Whether the writer opens as an unrelated process (named transports
      // only). The reader stays the process that inherited the channel: for
      // sockets it is the side holding the listening or bound socket.
      steps.push_back(unrelated_.Step(*rc::gen::inRange<uint64_t>(0, 2)));
      const uint64_t size =
          c.model == ModelClass::kCounter
              ? 8
              : *rc::gen::inRange<uint64_t>(c.framing == Framing::kStream ? 1 : 0,
                                            std::min<uint64_t>(SizeLimit(c), 512) + 1);
      steps.push_back(Step::Send(1, size, 0));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const uint64_t who = unrelated_.Of(s);  // 1: the writer opens by name alone
    const std::vector<Sent> sent = SendsOf(s, 1);
    auto maybe_cut = [&](Role role) {
      if (c.named && role == Role::kWriter && (who & 1)) CloseInheritedDescriptors();
    };
    CuttingTransport cutting(t, maybe_cut);
    Traffic traffic(c, env, {sent});
    const int deliver = traffic.waits().deliver_ms;
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   if (c.model != ModelClass::kCounter) return traffic.Write(*end, 0);
                   uint64_t v = 42;
                   size_t n = 0;
                   int rc = end->Send(std::as_bytes(std::span(&v, 1)), &n, deliver);
                   return rc == 0 ? "" : absl::StrCat("send in the child: ", Errno(rc));
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   if (c.model != ModelClass::kCounter) return traffic.Read(*end);
                   uint64_t v = 0;
                   size_t n = 0;
                   int rc = end->Recv(std::as_writable_bytes(std::span(&v, 1)), &n, deliver);
                   if (rc != 0) return absl::StrCat("receive in the child: ", Errno(rc));
                   return v == 42 ? "" : absl::StrFormat("counter read %d, expected 42", v);
                 }};
    return RunActors(cutting, env, {writer, reader});
  }

  const ChoiceParam<uint64_t> unrelated_{this, 0, "%s", 0, kWho};
};
IPCSPEC_REGISTER_PROPERTY(ForkProperty, "G-FORK", {.applies = EveryTransport, .examples = 15});

}  // namespace g_fork
}  // namespace
}  // namespace ipcspec::props
