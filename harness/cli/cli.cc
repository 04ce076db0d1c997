#include "harness/cli/cli.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "harness/cli/commands.h"
#include "ipcspec/plugin_loader.h"

namespace ipcspec {
namespace {

constexpr char kUsage[] =
    "usage: ipcspec list   [--transport=GLOB] [--property=GLOB] [--plugin=PATH]... [--format=F]\n"
    "       ipcspec run    [--transport=GLOB] [--property=GLOB] [--plugin=PATH]... [flags]\n"
    "       ipcspec replay [--plugin=PATH]... [--target=NAME] [--shrink=OUT] FILE\n"
    "       ipcspec merge  [--json=PATH] [--junit=PATH] [--summary-md=PATH] REPORT.json...\n"
    "       ipcspec --version\n"
    "`ipcspec COMMAND --help` lists a command's flags. Flags take --flag=value or --flag value.\n"
    "Exit status: 0 all passed, 1 a property failed, 2 usage or set-up error,\n"
    "128+N stopped by signal N: SIGINT 130, SIGTERM 143, SIGHUP 129, SIGPIPE 141\n"
    "(the reports hold what finished).\n";

int Dispatch(int argc, char** argv) {
  if (argc < 2) throw UsageError{"missing command"};
  const std::string_view cmd = argv[1];
  const std::span<char* const> rest(argv + 2, argv + argc);
  if (cmd == "list") return ListCommand(rest);
  if (cmd == "run") return RunCommand(argv[0], rest);
  if (cmd == "replay") return ReplayCommand(rest);
  if (cmd == "merge") return MergeCommand(rest);
  if (cmd == "--version" || cmd == "version") {
    if (!rest.empty()) throw UsageError{absl::StrCat(std::string(cmd), " takes no arguments")};
    std::cout << "ipcspec " << IpcspecVersion() << " (plugin ABI " << IPCSPEC_ABI_VERSION << ")\n";
    return kExitOk;
  }
  if (cmd == "help" && argc > 2) {
    char help[] = "--help";
    char* args[] = {argv[0], argv[2], help};
    return Dispatch(3, args);
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::cout << kUsage;
    return kExitOk;
  }
  throw UsageError{absl::StrFormat("unknown command '%s'", cmd)};
}

}  // namespace

std::string_view IpcspecVersion() { return IPCSPEC_VERSION; }

void LoadPlugins(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    absl::Status s = LoadPlugin(path);
    if (!s.ok()) throw UsageError{std::string(s.message())};
  }
}

int CliMain(int argc, char** argv) {
  try {
    return Dispatch(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "ipcspec: " << e.message << "\n";
    return kExitUsage;
  }
}

}  // namespace ipcspec
