/* fuzz/fuzz_plugin_main.c: the libFuzzer glue that ipcspec_add_fuzz_target()
 * (cmake/ipcspecFuzz.cmake) compiles into a plugin author's fuzz_<plugin>,
 * against the installed ipcspec::fuzzing library. It fuzzes the plugin named
 * by IPCSPEC_PLUGIN, else the one the function was given
 * (IPCSPEC_FUZZ_DEFAULT_PLUGIN), exactly as the in-tree fuzz_plugin does.
 *
 *   cmake: ipcspec_add_fuzz_target(mine)   ->   ./fuzz_mine corpus/
 *
 * C, so that a C-only plugin project can build it.
 */
#include <stddef.h>
#include <stdint.h>

#ifndef IPCSPEC_FUZZ_DEFAULT_PLUGIN
#define IPCSPEC_FUZZ_DEFAULT_PLUGIN ""
#endif

/* fuzz/fuzz_entry.h, C view. */
int ipcspec_fuzz_init(const char* target, const char* default_plugin);
int ipcspec_fuzz_one_input(const char* target, const uint8_t* data, size_t size);

int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)argc;
  (void)argv;
  return ipcspec_fuzz_init("plugin", IPCSPEC_FUZZ_DEFAULT_PLUGIN);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return ipcspec_fuzz_one_input("plugin", data, size);
}
