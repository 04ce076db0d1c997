// G-FORK: an anonymous transport created before fork works in the children;
// a named transport is reachable from a process that inherited nothing but
// the name (every inherited descriptor closed before it opens).
#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

class ForkProperty : public NamedProperty {
 public:
  ForkProperty()
      : NamedProperty("G-FORK",
                      "anonymous transports created before fork work in the child; named ones are "
                      "reachable by name alone from a writer that inherited no descriptor",
                      "fork(2) (descriptors are inherited), mq_overview(7), fifo(7), unix(7)") {}
  Applicability AppliesTo(const Transport&) const override { return Applicability::Yes(); }
  int DefaultExamples() const override { return 15; }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      std::vector<Step> steps;
      // Whether the writer opens as an unrelated process (named transports
      // only). The reader stays the process that inherited the channel: for
      // sockets it is the side holding the listening or bound socket.
      steps.push_back(Step::Param(0, *rc::gen::inRange<uint64_t>(0, 2)));
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
    const uint64_t who = s.Param(0, 0);  // 1: the writer opens by name alone
    const std::vector<Sent> sent = SendsOf(s, 1);
    auto maybe_cut = [&](Role role) {
      if (c.named && role == Role::kWriter && (who & 1)) CloseInheritedDescriptors();
    };
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
    CuttingTransport cutting(t, maybe_cut);
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   if (c.model == ModelClass::kCounter) {
                     uint64_t v = 42;
                     size_t n = 0;
                     int rc = end->Send(std::as_bytes(std::span(&v, 1)), &n, kOpTimeoutMs);
                     return rc == 0 ? "" : absl::StrCat("send in the child: ", Errno(rc));
                   }
                   return SendAll(*end, sent[0], c.framing, kOpTimeoutMs);
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   if (c.model == ModelClass::kCounter) {
                     uint64_t v = 0;
                     size_t n = 0;
                     int rc = end->Recv(std::as_writable_bytes(std::span(&v, 1)), &n, kOpTimeoutMs);
                     if (rc != 0) return absl::StrCat("receive in the child: ", Errno(rc));
                     return v == 42 ? "" : absl::StrFormat("counter read %d, expected 42", v);
                   }
                   if (c.framing == Framing::kStream)
                     return ExpectStream(*end, sent, {}, kOpTimeoutMs);
                   if (!c.reliable) return ExpectUnordered(*end, c, sent, false);
                   return ExpectMessage(*end, sent[0], sent, RecvBufferSize(c), kOpTimeoutMs);
                 }};
    return RunActors(cutting, env, {writer, reader});
  }
};

IPCSPEC_REGISTER_PROPERTY(ForkProperty);

}  // namespace
}  // namespace ipcspec::props
