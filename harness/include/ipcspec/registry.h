// ipcspec/registry.h: the transports a run can use.
//
// Built-in transports register themselves from their own file:
//
//   IPCSPEC_REGISTER_TRANSPORT(PipeTransport);
//
// A family whose members differ only in their constructor's arguments
// registers each member under a tag of its own, with those arguments:
//
//   IPCSPEC_REGISTER_TRANSPORT_MEMBER(Stream, UnixTransport, SOCK_STREAM, kStreamSpec);
//
// Plugins are added at run time by the plugin loader. Lookup is by name:
//
//   const Transport* t = TransportRegistry::Global().Find("pipe");
#ifndef IPCSPEC_REGISTRY_H_
#define IPCSPEC_REGISTRY_H_

#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "ipcspec/transport.h"

namespace ipcspec {

class TransportRegistry {
 public:
  static TransportRegistry& Global();

  // Fails with AlreadyExists when the name is taken, InvalidArgument when
  // the name is empty or the capabilities contradict themselves.
  absl::Status Add(std::unique_ptr<Transport> t, bool builtin = true);
  const Transport* Find(std::string_view name) const;
  bool IsBuiltin(std::string_view name) const;
  // In registration order: built-ins sorted by name first, then plugins.
  std::vector<const Transport*> All() const;

 private:
  struct Entry {
    std::unique_ptr<Transport> transport;
    bool builtin;
  };
  std::vector<Entry> entries_;
};

namespace internal {
struct TransportRegistrar {
  explicit TransportRegistrar(std::unique_ptr<Transport> t);
};
}  // namespace internal

}  // namespace ipcspec

#define IPCSPEC_REGISTER_TRANSPORT(Type)                                    \
  static ::ipcspec::internal::TransportRegistrar ipcspec_registrar_##Type { \
    std::make_unique<Type>()                                                \
  }
#define IPCSPEC_REGISTER_TRANSPORT_MEMBER(Tag, Type, ...)                  \
  static ::ipcspec::internal::TransportRegistrar ipcspec_registrar_##Tag { \
    std::make_unique<Type>(__VA_ARGS__)                                    \
  }

#endif  // IPCSPEC_REGISTRY_H_
