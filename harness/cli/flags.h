// harness/cli/flags.h: the command line's flag parser and per-command help.
//
// Each subcommand declares its flags in one table; the parser accepts
// --name=value and --name value, boolean flags alone (--fail-fast), "--" to
// end the flags, and -h/--help anywhere. The same table prints the help, so
// a flag cannot exist without its line of help.
//
//   const FlagSpec kFlags[] = {{"examples", "N", "examples per property"},
//                              {"fail-fast", "", "stop at the first failure"}};
//   Flags f = ParseFlags(args, kFlags);              // throws UsageError
//   int n = f.Int("examples", 0, 1, 1000000);        // "--examples=x: expected ..."
#ifndef IPCSPEC_HARNESS_CLI_FLAGS_H_
#define IPCSPEC_HARNESS_CLI_FLAGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace ipcspec {

// Bad input from the user: one line, exit status 2.
struct UsageError {
  std::string message;
};

struct FlagSpec {
  std::string_view name;   // "examples": --examples
  std::string_view value;  // "N" in the help; "" for a boolean flag
  std::string_view help;   // one line
  bool repeated = false;   // --plugin=A --plugin=B keeps both
};

class Flags {
 public:
  bool Has(std::string_view name) const { return values_.count(std::string(name)) > 0; }
  // The last value given, or `fallback`.
  std::string Get(std::string_view name, std::string_view fallback = "") const;
  // Every value of a repeated flag, in order.
  std::vector<std::string> All(std::string_view name) const;
  // Every value of a repeated list flag joined with ',' (--property=A
  // --property=B is --property=A,B), or `fallback`.
  std::string Joined(std::string_view name, std::string_view fallback) const;
  int64_t Int(std::string_view name, int64_t fallback, int64_t min, int64_t max) const;
  absl::Duration Duration(std::string_view name, absl::Duration fallback, absl::Duration min,
                          absl::Duration max) const;
  bool help() const { return help_; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend Flags ParseFlags(std::span<char* const>, std::span<const FlagSpec>);
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// Parses the arguments after the subcommand. Unknown flags, a value flag
// without its value, or a value on a boolean flag throw UsageError.
Flags ParseFlags(std::span<char* const> args, std::span<const FlagSpec> specs);

// "usage: ipcspec run [flags]\n<what>\n\nflags:\n  --examples=N ..." from the table.
std::string FlagHelp(std::string_view usage, std::string_view what,
                     std::span<const FlagSpec> specs);

// A command's --help page: its usage line, what it does, and its flags.
struct CommandHelp {
  std::string_view usage;  // "ipcspec list [flags]"
  std::string_view what;
  std::span<const FlagSpec> flags;
};

// ParseFlags by help.flags; with --help, prints the help page to stdout and
// returns nothing (the command then exits 0).
std::optional<Flags> ParseCommandFlags(std::span<char* const> args, const CommandHelp& help);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_FLAGS_H_
