# `make install` and `make package`: what an installation holds, and the .tar.gz / .deb packages of it.
#
#   <prefix>/bin/mmcl
#   <prefix>/share/mmcl/configs/{models,runs,slurm,bench}/   the presets and run configs (also built in)
#   <prefix>/share/bash-completion/completions/mmcl        mmcl completion bash
#   <prefix>/share/zsh/vendor-completions/_mmcl             mmcl completion zsh
#   <prefix>/share/man/man1/mmcl.1                          help2man from mmcl --help (when help2man is there)
#   <prefix>/share/doc/mmcl/                                README, docs/, the help of every subcommand, licenses
#
# The package holds mmcl, not LibTorch (gigabytes with CUDA): the installed binary finds LibTorch where the
# build found it (its run path), so install the same torch wheel or LibTorch at that path on every machine,
# or point LD_LIBRARY_PATH at its lib/ folder (docs/INSTALL.md).
include(GNUInstallDirs)

# LibTorch (and the other libraries outside the system folders) stay on the installed binary's run path.
set(MMCL_INSTALL_RPATH "")
if(TORCH_INSTALL_PREFIX)
  list(APPEND MMCL_INSTALL_RPATH "${TORCH_INSTALL_PREFIX}/lib")
endif()
set_target_properties(mmcl PROPERTIES INSTALL_RPATH "${MMCL_INSTALL_RPATH}" INSTALL_RPATH_USE_LINK_PATH TRUE)
install(TARGETS mmcl RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(DIRECTORY configs/ DESTINATION "${CMAKE_INSTALL_DATADIR}/mmcl/configs" FILES_MATCHING PATTERN "*.yaml" PATTERN "*.sh"
        PATTERN "*.sbatch")
install(FILES README.md DESTINATION "${CMAKE_INSTALL_DOCDIR}")
install(DIRECTORY docs/ DESTINATION "${CMAKE_INSTALL_DOCDIR}" FILES_MATCHING PATTERN "*.md")
install(FILES third_party/clip/LICENSE DESTINATION "${CMAKE_INSTALL_DOCDIR}/licenses" RENAME clip-bpe-LICENSE)

# Completion scripts, the help text of every subcommand and the man page come from the built binary.
set(MMCL_GENERATED "${PROJECT_BINARY_DIR}/install-files")
find_program(HELP2MAN help2man)
set(MMCL_GENERATED_FILES "${MMCL_GENERATED}/mmcl.bash" "${MMCL_GENERATED}/_mmcl" "${MMCL_GENERATED}/help/mmcl.txt")
set(MMCL_MAN_COMMAND "")
if(HELP2MAN)
  list(APPEND MMCL_GENERATED_FILES "${MMCL_GENERATED}/mmcl.1")
  set(MMCL_MAN_COMMAND COMMAND "${HELP2MAN}" --no-info --no-discard-stderr --name "multimodal contrastive learning"
      --include "${PROJECT_SOURCE_DIR}/cmake/mmcl.h2m" --output "${MMCL_GENERATED}/mmcl.1" "$<TARGET_FILE:mmcl>")
endif()
add_custom_command(
  OUTPUT ${MMCL_GENERATED_FILES}
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${MMCL_GENERATED}/help"
  COMMAND "$<TARGET_FILE:mmcl>" completion bash > "${MMCL_GENERATED}/mmcl.bash"
  COMMAND "$<TARGET_FILE:mmcl>" completion zsh > "${MMCL_GENERATED}/_mmcl"
  COMMAND bash "${PROJECT_SOURCE_DIR}/scripts/help-texts.sh" "$<TARGET_FILE:mmcl>" "${MMCL_GENERATED}/help"
  ${MMCL_MAN_COMMAND}
  DEPENDS mmcl "${PROJECT_SOURCE_DIR}/cmake/mmcl.h2m" "${PROJECT_SOURCE_DIR}/scripts/help-texts.sh"
  COMMENT "completion scripts, help texts and the man page of mmcl"
  VERBATIM)
add_custom_target(mmcl_install_files ALL DEPENDS ${MMCL_GENERATED_FILES})
install(FILES "${MMCL_GENERATED}/mmcl.bash" DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" RENAME mmcl)
install(FILES "${MMCL_GENERATED}/_mmcl" DESTINATION "${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions")
install(DIRECTORY "${MMCL_GENERATED}/help/" DESTINATION "${CMAKE_INSTALL_DOCDIR}/help")
if(HELP2MAN)
  install(FILES "${MMCL_GENERATED}/mmcl.1" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
endif()

# make package: build/mmcl-<version>-Linux-<arch>.tar.gz and build/mmcl_<version>_<arch>.deb.
set(CPACK_PACKAGE_NAME mmcl)
set(CPACK_PACKAGE_VENDOR mmcl)
set(CPACK_PACKAGE_CONTACT "mmcl maintainers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Multimodal contrastive learning (CLIP, FDT, VATT, CVRL, SimCLR) from one binary")
set(CPACK_PACKAGE_FILE_NAME "mmcl-${PROJECT_VERSION}-Linux-${CMAKE_SYSTEM_PROCESSOR}")
set(CPACK_GENERATOR TGZ DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
# The Debian 12 libraries mmcl links (LibTorch is not packaged by Debian: see the note above).
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6, libstdc++6, libgcc-s1, zlib1g, libyaml-cpp0.7, libspdlog1.10, libfmt9, libavformat59, libavcodec59, libavutil57, libswscale6, libswresample4, libstb0, libturbojpeg0, libcairo2")
include(CPack)
