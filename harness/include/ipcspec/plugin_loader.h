// ipcspec/plugin_loader.h: loads a transport plugin (see ipcspec/plugin.h)
// and registers it beside the built-in transports. The `ipcspec` command
// (--plugin=) and the fuzz_plugin target (IPCSPEC_PLUGIN=) both use it.
//
//   std::string name;
//   absl::Status s = LoadPlugin("./libmine.so", &name);   // name: "mine"
//   // s.message(): "plugin ./libmine.so: ABI version 2, this ipcspec speaks 1"
//
// The shared object is first loaded and its entry point called in a forked
// child, so a plugin that crashes while loading is an error, not a crash of
// the harness. Every field is checked before the transport is registered.
#ifndef IPCSPEC_PLUGIN_LOADER_H_
#define IPCSPEC_PLUGIN_LOADER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ipcspec/plugin.h"
#include "ipcspec/transport.h"

namespace ipcspec {

// On success, *name (when given) is the registered transport's name.
absl::Status LoadPlugin(const std::string& path, std::string* name = nullptr);

// A Transport over an ABI description (also for C transports linked in).
std::unique_ptr<Transport> WrapAbiTransport(const ipcspec_transport* t);

// Checks the ABI description's fields; names the first bad one.
absl::Status ValidateAbiTransport(const ipcspec_transport* t);

}  // namespace ipcspec

#endif  // IPCSPEC_PLUGIN_LOADER_H_
