#include "ipcspec/registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_format.h"

namespace ipcspec {

TransportRegistry& TransportRegistry::Global() {
  static auto* registry = new TransportRegistry();
  return *registry;
}

absl::Status TransportRegistry::Add(std::unique_ptr<Transport> t, bool builtin) {
  if (t->name().empty()) return absl::InvalidArgumentError("transport has an empty name");
  if (Find(t->name()) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrFormat("transport name '%s' is already taken by %s", t->name(),
                        IsBuiltin(t->name()) ? "a built-in transport" : "another plugin"));
  }
  if (std::string why = t->caps().Contradiction(); !why.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("transport '%s' declares contradictory capabilities: %s", t->name(), why));
  }
  entries_.push_back({std::move(t), builtin});
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.builtin != b.builtin) return a.builtin;
    return a.builtin && a.transport->name() < b.transport->name();
  });
  return absl::OkStatus();
}

const Transport* TransportRegistry::Find(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (e.transport->name() == name) return e.transport.get();
  }
  return nullptr;
}

bool TransportRegistry::IsBuiltin(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (e.transport->name() == name) return e.builtin;
  }
  return false;
}

std::vector<const Transport*> TransportRegistry::All() const {
  std::vector<const Transport*> out;
  for (const Entry& e : entries_) out.push_back(e.transport.get());
  return out;
}

namespace internal {
TransportRegistrar::TransportRegistrar(std::unique_ptr<Transport> t) {
  if (absl::Status s = TransportRegistry::Global().Add(std::move(t)); !s.ok()) {
    std::fprintf(stderr, "ipcspec: built-in transport rejected: %s\n", s.ToString().c_str());
    std::abort();
  }
}
}  // namespace internal

}  // namespace ipcspec
