/* The mode selector of the interposed libc (tests/shim/shim.h). */
#include "shim.h"

#include <stdlib.h>
#include <string.h>

static char g_mode[128];

__attribute__((constructor)) static void ReadMode(void) {
  const char* m = getenv("IPCSPEC_SHIM");
  if (m != NULL) strncpy(g_mode, m, sizeof g_mode - 1);
}

int ipcspec_shim_mode(const char* mode) { return g_mode[0] != '\0' && strcmp(g_mode, mode) == 0; }

int ipcspec_shim_any_mode(void) { return g_mode[0] != '\0'; }
