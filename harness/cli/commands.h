// harness/cli/commands.h: the subcommands of `ipcspec`, each a function from
// its arguments (those after the subcommand's name) to an exit status. Each
// takes -h/--help and throws UsageError on bad input (exit status 2).
//
//   int status = RunCommand(argv[0], {argv + 2, argv + argc});
#ifndef IPCSPEC_HARNESS_CLI_COMMANDS_H_
#define IPCSPEC_HARNESS_CLI_COMMANDS_H_

#include <algorithm>
#include <array>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/cli/flags.h"

namespace ipcspec {

int ListCommand(std::span<char* const> args);
int RunCommand(const char* argv0, std::span<char* const> args);
int ReplayCommand(std::span<char* const> args);
int MergeCommand(std::span<char* const> args);

// "0.1.0", the project's version.
std::string_view IpcspecVersion();

// The flags `list` and `run` share: what to select and which plugins to load.
inline constexpr FlagSpec kSelectionFlags[] = {
    {"transport", "GLOB[,GLOB]", "transports to use; a glob starting with '-' excludes", true},
    {"property", "GLOB[,GLOB]", "properties to check, e.g. G-*,-G-TIMEOUT", true},
    {"plugin", "PATH", "load a transport plugin (a shared object)", true},
};

// kSelectionFlags followed by a command's own flags:
//   constexpr auto kListFlags = SelectionFlagsAnd({{"verbose", "", "name every pair ..."}});
template <size_t N>
constexpr std::array<FlagSpec, std::size(kSelectionFlags) + N> SelectionFlagsAnd(
    const FlagSpec (&own)[N]) {
  std::array<FlagSpec, std::size(kSelectionFlags) + N> all{};
  std::copy(std::begin(kSelectionFlags), std::end(kSelectionFlags), all.begin());
  std::copy(own, own + N, all.begin() + std::size(kSelectionFlags));
  return all;
}

// Loads each --plugin; throws UsageError naming the first that fails.
void LoadPlugins(const std::vector<std::string>& paths);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_COMMANDS_H_
