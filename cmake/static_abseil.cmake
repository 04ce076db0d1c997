# Abseil from its static archives. Debian's package exports each absl::
# target as a shared library: ~64 of them, each mapped in four or five
# pieces, so ~170 of a case process's ~216 mappings were Abseil's. A fork
# copies every mapping (dup_mmap, anon_vma_clone) and a forked child faults
# and binds each library's pages again; an example of a property forks
# three processes and a multi-process fuzz input four, so the mappings were
# the largest part of what a case costs (perf: copy_page_range, dup_mmap
# and anon_vma_* at the top). The same package installs the archives (built
# position-independent), so each imported target is pointed at its archive
# where there is one. The link order stays CMake's, which follows the
# targets' own dependencies.
#
#   cmake --preset default -DIPCSPEC_STATIC_ABSEIL=OFF   # the shared libraries
option(IPCSPEC_STATIC_ABSEIL "Link Abseil's static archives (fewer mappings: cheaper forks)" ON)

function(ipcspec_use_static_abseil)
  if(NOT IPCSPEC_STATIC_ABSEIL)
    return()
  endif()
  get_directory_property(imported IMPORTED_TARGETS)
  set(moved 0)
  foreach(t IN LISTS imported)
    if(NOT t MATCHES "^absl::")
      continue()
    endif()
    get_target_property(type ${t} TYPE)
    if(NOT type STREQUAL "SHARED_LIBRARY")
      continue()
    endif()
    foreach(config NONE RELEASE RELWITHDEBINFO DEBUG)
      get_target_property(so ${t} IMPORTED_LOCATION_${config})
      if(NOT so)
        continue()
      endif()
      string(REGEX REPLACE "\\.so(\\.[0-9.]+)?$" ".a" archive "${so}")
      if(EXISTS "${archive}")
        set_target_properties(${t} PROPERTIES IMPORTED_LOCATION_${config} "${archive}"
                                              IMPORTED_NO_SONAME TRUE)
        math(EXPR moved "${moved} + 1")
      endif()
    endforeach()
  endforeach()
  message(STATUS "ipcspec: Abseil linked from ${moved} static archives")
endfunction()
