#include "harness/cli.h"
namespace ipcspec { int CliMain(int, char**) { return kExitUsage; } }
