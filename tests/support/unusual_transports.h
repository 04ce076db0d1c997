// tests/support/unusual_transports.h: the family of correct but unusual
// transports (lossy but ordered, a send that waits for its peer, capacity
// counted in messages, delivery through a relay process, duplex, no end of
// stream, short receives that keep or drop, length-prefixed frames) and one
// deliberately broken sibling of each, from tests/support/quirks.def.
//
// They are written once, in C against the plugin ABI (tests/plugins/
// quirk_*.c), and reach the harness two ways: built into the tests and
// registered here (the built-in path), and as plugin modules run by the real
// binary with --plugin (the C ABI path).
//
//   RegisterQuirkTransports();   // adds "quirk_lossy", "quirk_lossy_broken", ...
//   for (const QuirkInfo& q : QuirkTransports()) ...   // q.property: who must catch it
//   std::string so = QuirkPlugin("quirk_lossy");       // the module's path
#ifndef IPCSPEC_TESTS_SUPPORT_UNUSUAL_TRANSPORTS_H_
#define IPCSPEC_TESTS_SUPPORT_UNUSUAL_TRANSPORTS_H_

#include <ostream>
#include <string>
#include <vector>

#include "ipcspec/plugin.h"

namespace ipcspec::testing {

struct QuirkInfo {
  std::string name;      // "quirk_lossy"
  bool broken = false;   // a deliberately broken sibling
  std::string property;  // broken: the property that must catch it
  const ipcspec_transport* (*entry)() = nullptr;
};

inline void PrintTo(const QuirkInfo& q, std::ostream* os) {
  *os << q.name;
  if (q.broken) *os << " (caught by " << q.property << ")";
}

// Every member of the family, in quirks.def order.
const std::vector<QuirkInfo>& QuirkTransports();
// Registers them all as non-built-in transports (idempotent).
void RegisterQuirkTransports();
// The plugin module of `name` from `list` ("name=path|name=path", as the
// build passes IPCSPEC_QUIRK_PLUGINS), or "".
std::string QuirkPlugin(const std::string& list, const std::string& name);

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_UNUSUAL_TRANSPORTS_H_
