// ipcspec: the command line. See harness/cli.h.
#include "harness/cli/cli.h"

int main(int argc, char** argv) { return ipcspec::CliMain(argc, argv); }
