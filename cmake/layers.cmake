# Layers that only point down, enforced by the compiler.
#
# The repository root is never an include directory. Instead each library
# gets an include *view*: a directory in the build tree holding symbolic links
# to exactly the source folders it may include, under their repository paths.
# A target sees a folder only through a library it links, so an include that
# points up or sideways ("properties/..." from transports/) does not resolve
# and fails to compile:
#
#   add_library(ipcspec_transports OBJECT ...)
#   ipcspec_expose(ipcspec_transports PUBLIC transports)
#   # sources and consumers of ipcspec_transports may #include "transports/fd_end.h"
#
# The order is harness/cli -> fuzz -> properties -> transports -> harness/core
# (harness/include/ipcspec is core's public interface); tests/support is a
# library for tests/, fuzz targets and bench/ only. ci/check-layers lists the
# includes that cross folders, and tests/layering/ proves a wrong one fails.
function(ipcspec_expose target scope)
  set(view ${PROJECT_BINARY_DIR}/include-views/${target})
  foreach(folder ${ARGN})
    get_filename_component(parent ${view}/${folder} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    if(NOT EXISTS ${view}/${folder})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${folder} ${view}/${folder} SYMBOLIC)
    endif()
  endforeach()
  target_include_directories(${target} ${scope} $<BUILD_INTERFACE:${view}>)
endfunction()
