# ipcspec_add_fuzz_target(<plugin target> [NAME fuzz_name] [SECONDS n])
#
# Builds a libFuzzer binary for a transport plugin: <NAME> (default
# fuzz_<target>) loads <NAME>_plugin, a copy of the plugin <target> builds
# (its sources and settings) compiled with
# -fsanitize=fuzzer-no-link,address,undefined so libFuzzer sees its edges
# and its memory errors, and fuzzes it in process with every scenario its
# declared capabilities allow (sends, receives, bounded waits and a close,
# in any order), checking each step against ipcspec's reference models, the
# way the in-tree fuzz_plugin does. <target> itself stays a plain build,
# which `ipcspec run` and `ipcspec replay` load.
#
#   find_package(ipcspec REQUIRED)
#   add_library(mine MODULE mine.c)
#   target_link_libraries(mine PRIVATE ipcspec::plugin)
#   ipcspec_add_fuzz_target(mine)
#
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_PREFIX_PATH=<ipcspec prefix>
#   cmake --build build-fuzz --target run_fuzz_mine      # SECONDS of fuzzing
#
# run_<NAME> fuzzes from a scratch copy of ipcspec's seed corpus (installed
# with the package) for SECONDS (default 60) and leaves a crash in
# <binary dir>/fuzz-artifacts/plugin/; `ipcspec replay --plugin=<target's
# .so> <crash file>` prints it as readable steps. The binary also runs by hand:
# `<NAME> <corpus dir> [libFuzzer flags]` (IPCSPEC_PLUGIN=<path> fuzzes
# another build of the plugin).
#
# Needs clang as the C compiler (libFuzzer). With another compiler the
# function says so and adds nothing, so a gcc build of the same project
# still configures.
#
# IPCSPEC_FUZZ_SHARE_DIR (set by ipcspecConfig.cmake) holds the glue
# (fuzz_plugin_main.c) and the seed corpus (corpus/plugin, plugin.dict).

# (_ipcspec_check_call is in ipcspecConformance.cmake, which
# ipcspecConfig.cmake includes before this file.)
function(ipcspec_add_fuzz_target target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "NAME;SECONDS" "")
  _ipcspec_check_call(ipcspec_add_fuzz_target ${target})
  if(NOT arg_NAME)
    set(arg_NAME fuzz_${target})
  endif()
  if(NOT arg_SECONDS)
    set(arg_SECONDS 60)
  endif()
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(STATUS "ipcspec_add_fuzz_target(${target}): needs clang as the C compiler "
                   "(-DCMAKE_C_COMPILER=clang); ${arg_NAME} not added")
    return()
  endif()
  set(share "${IPCSPEC_FUZZ_SHARE_DIR}")
  set(sanitizers -fsanitize=address,undefined -fno-sanitize-recover=undefined
                 -fno-omit-frame-pointer)
  # An instrumented copy of the plugin, <NAME>_plugin, from the target's own
  # sources and settings: the target itself stays a plain build, which
  # `ipcspec run`, `ipcspec replay` and ipcspec_discover_tests load (an
  # instrumented one needs libFuzzer's symbols, which only the fuzzer has).
  get_target_property(sources ${target} SOURCES)
  get_target_property(source_dir ${target} SOURCE_DIR)
  set(absolute_sources)
  foreach(source IN LISTS sources)
    if(IS_ABSOLUTE "${source}" OR source MATCHES "^\\$<")
      list(APPEND absolute_sources "${source}")
    else()
      list(APPEND absolute_sources "${source_dir}/${source}")
    endif()
  endforeach()
  set(copy ${arg_NAME}_plugin)
  add_library(${copy} MODULE ${absolute_sources})
  foreach(property INCLUDE_DIRECTORIES COMPILE_DEFINITIONS COMPILE_OPTIONS LINK_LIBRARIES
                   LINK_OPTIONS C_STANDARD C_STANDARD_REQUIRED C_EXTENSIONS CXX_STANDARD
                   CXX_STANDARD_REQUIRED CXX_EXTENSIONS C_VISIBILITY_PRESET
                   CXX_VISIBILITY_PRESET)
    get_target_property(value ${target} ${property})
    if(value)
      set_target_properties(${copy} PROPERTIES ${property} "${value}")
    endif()
  endforeach()
  target_compile_options(${copy} PRIVATE -fsanitize=fuzzer-no-link ${sanitizers} -g)
  target_link_options(${copy} PRIVATE -fsanitize=address,undefined)

  add_executable(${arg_NAME} "${share}/fuzz_plugin_main.c")
  target_compile_definitions(${arg_NAME} PRIVATE
                             IPCSPEC_FUZZ_DEFAULT_PLUGIN="$<TARGET_FILE:${copy}>")
  target_compile_options(${arg_NAME} PRIVATE ${sanitizers} -g)
  target_link_options(${arg_NAME} PRIVATE -fsanitize=fuzzer ${sanitizers})
  target_link_libraries(${arg_NAME} PRIVATE ipcspec::fuzzing)
  # The glue is C; libFuzzer brings the C++ runtime the library needs.
  set_target_properties(${arg_NAME} PROPERTIES LINKER_LANGUAGE C)
  add_dependencies(${arg_NAME} ${copy})

  set(work "${CMAKE_CURRENT_BINARY_DIR}/${arg_NAME}-corpus")
  set(artifacts "${CMAKE_CURRENT_BINARY_DIR}/fuzz-artifacts/plugin/")
  add_custom_target(run_${arg_NAME}
    COMMAND ${CMAKE_COMMAND} -E make_directory "${work}" "${artifacts}"
    COMMAND ${CMAKE_COMMAND} -E copy_directory "${share}/corpus/plugin" "${work}"
    COMMAND $<TARGET_FILE:${arg_NAME}> "${work}" "-dict=${share}/corpus/plugin.dict"
            -max_len=4096 -max_total_time=${arg_SECONDS} -print_final_stats=1
            "-artifact_prefix=${artifacts}"
    DEPENDS ${arg_NAME}
    USES_TERMINAL
    COMMENT "Fuzzing ${target} for ${arg_SECONDS} s (crashes: ${artifacts})")
endfunction()
