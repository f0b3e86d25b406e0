# CPack settings for the Debian package: cpack -G DEB in the build directory.
# Included from mount-helper/CMakeLists.txt, after every install() rule of the
# project has been declared (fs/ and core/ are added before mount-helper/).

set(BUNDLEFS_PACKAGE_MAINTAINER "bundlefs maintainers <bundlefs@localhost>" CACHE STRING
	"Maintainer field of the Debian package")

set(CPACK_PACKAGE_NAME bundlefs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${BUNDLEFS_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "FUSE filesystem presenting containerd's bundles")
set(CPACK_PACKAGE_DESCRIPTION
	"bundlefs presents the bundles of containerd's runtimes v1
(io.containerd.runtime.v1.linux) and v2 (io.containerd.runtime.v2.task) as a
directory tree, so that they can be inspected, created and deleted with ls,
cat, mkdir, cp and rmdir: read-only over a live node, or as containerd's own
state directory; and a whole node in one read-only mount (-o node): every
runtime's bundles, the Kubernetes pods by name, and the bundles, work dirs,
sockets and shims containerd left behind.
This package contains the daemon, the mount(8) helper mount.bundlefs, three
systemd mount units (the node view at /mnt/node; read-only views of the v1
and the v2 directories) and the manual pages.")

# The package installs exactly where the binaries expect to be: the helper has
# the daemon's path compiled in from CMAKE_INSTALL_PREFIX (use /usr).
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${BUNDLEFS_PACKAGE_MAINTAINER}")
# Library dependencies (libfuse3-3, libjson-c5, libssl3, liburing2, libc6) come from
# dpkg-shlibdeps; fuse3 provides fusermount3, mount.fuse3 and /etc/fuse.conf.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "containerd")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)

# Maintainer scripts must be executable in the control archive: copy them
# with explicit permissions instead of relying on the checkout's modes.
set(bundlefs_debian_scripts)
foreach(script postinst prerm postrm)
	file(COPY ${PROJECT_SOURCE_DIR}/packaging/debian/${script}
		DESTINATION ${CMAKE_CURRENT_BINARY_DIR}/debian
		FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
			WORLD_READ WORLD_EXECUTE)
	list(APPEND bundlefs_debian_scripts ${CMAKE_CURRENT_BINARY_DIR}/debian/${script})
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${bundlefs_debian_scripts}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# Debian policy: /usr/share/doc/<package>/copyright.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/copyright
	DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/bundlefs)

set(CPACK_GENERATOR DEB)
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/;/build[^/]*/;__pycache__;\\\\.pytest_cache")
include(CPack)
