// harness/cli/selection.h: which (transport, property) pairs a command
// means, from --transport / --property globs and the GoogleTest sharding
// variables. `run` runs the selection; `list` shows it (a dry run).
//
// A glob list is gtest's filter: comma-separated globs, where a glob starting
// with '-' excludes ("G-*,-G-TIMEOUT": every generic property but G-TIMEOUT;
// "-G-TIMEOUT" alone: everything but it).
//
//   Selection s = Select(flags.Joined("transport", "*"), flags.Joined("property", "*"),
//   ShardFromEnv()); for (const SelectedPair& p : s.run) ...            // applicable and in this
//   shard for (const NotApplicable& n : s.not_applicable) ... // with the capability that excludes
//   it
#ifndef IPCSPEC_HARNESS_CLI_SELECTION_H_
#define IPCSPEC_HARNESS_CLI_SELECTION_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness/cli/report.h"
#include "ipcspec/property.h"
#include "ipcspec/transport.h"

namespace ipcspec {

struct Shard {
  int index = 0, total = 1;
};
// GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX (both or neither); touches
// GTEST_SHARD_STATUS_FILE when `touch_status_file`. Throws UsageError.
Shard ShardFromEnv(bool touch_status_file);

// True when name passes the filter (see above).
bool FilterMatches(std::string_view filter, std::string_view name);

struct SelectedPair {
  const Transport* transport;
  const Property* property;
};

struct Selection {
  std::vector<const Transport*> transports;   // matching the transport filter
  std::vector<const Property*> properties;    // matching the property filter
  std::vector<SelectedPair> run;              // applicable, in this shard, in report order
  size_t applicable = 0;                      // in every shard
  std::vector<NotApplicable> not_applicable;  // in this shard (in every one if none applies)
};

// Throws UsageError naming a glob that matches no transport or property.
Selection Select(std::string_view transport_filter, std::string_view property_filter, Shard shard);

// The property's family, its ID's first word ("G", "PIPE"; "SYSV-MSG", "POSIX-MQ").
std::string PropertyFamily(std::string_view id);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_SELECTION_H_
