# `cmake --install`: the ipcspec executable, the public headers, the harness
# library, the fuzzing library and a CMake package (find_package(ipcspec))
# with ipcspec_discover_tests(), ipcspec_add_conformance_test() and
# ipcspec_add_fuzz_target(). Included from the top-level CMakeLists.txt.
include(CMakePackageConfigHelpers)

set(IPCSPEC_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ipcspec)
set(IPCSPEC_INSTALL_SHAREDIR ${CMAKE_INSTALL_DATADIR}/ipcspec)

set_target_properties(ipcspec_core PROPERTIES EXPORT_NAME harness)
set_target_properties(ipcspec_plugin PROPERTIES EXPORT_NAME plugin)
set_target_properties(ipcspec_fuzzing PROPERTIES EXPORT_NAME fuzzing)
install(TARGETS ipcspec ipcspec_core ipcspec_plugin ipcspec_warnings ipcspec_fuzzing
        EXPORT ipcspecTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/harness/include/ipcspec
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(EXPORT ipcspecTargets NAMESPACE ipcspec:: DESTINATION ${IPCSPEC_INSTALL_CMAKEDIR})

# ipcspec_add_fuzz_target(): its C glue and the plugin target's seed corpus.
install(FILES ${PROJECT_SOURCE_DIR}/fuzz/fuzz_plugin_main.c DESTINATION ${IPCSPEC_INSTALL_SHAREDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/corpus/plugin DESTINATION ${IPCSPEC_INSTALL_SHAREDIR}/corpus)
install(FILES ${PROJECT_SOURCE_DIR}/corpus/plugin.dict ${PROJECT_SOURCE_DIR}/corpus/plugin.options
        DESTINATION ${IPCSPEC_INSTALL_SHAREDIR}/corpus)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ipcspecConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/ipcspecConfig.cmake
                              INSTALL_DESTINATION ${IPCSPEC_INSTALL_CMAKEDIR}
                              PATH_VARS IPCSPEC_INSTALL_SHAREDIR)
# 0.x: a new minor version may change the C++ API (the C plugin ABI is
# versioned on its own, by IPCSPEC_ABI_VERSION).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ipcspecConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ipcspecConfig.cmake
              ${PROJECT_BINARY_DIR}/ipcspecConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/ipcspecConformance.cmake
              ${PROJECT_SOURCE_DIR}/cmake/ipcspecDiscoverTests.cmake
              ${PROJECT_SOURCE_DIR}/cmake/ipcspecFuzz.cmake
        DESTINATION ${IPCSPEC_INSTALL_CMAKEDIR})
