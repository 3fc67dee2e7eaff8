# cmake -P script, run at every build: hashes the native sources (every file under native/, by
# relative path and content) and writes source_hash.h only when the hash changed. The hash is
# compiled into the addon so that a prebuilt binary can be checked against the sources it ships
# with (lib/bindings/utils/nativeSourceHash.ts computes the same value).
file(GLOB_RECURSE files RELATIVE "${ROOT}" "${ROOT}/native/*")
list(SORT files)
set(listing "")
foreach(f IN LISTS files)
  file(SHA256 "${ROOT}/${f}" h)
  string(APPEND listing "${f} ${h}\n")
endforeach()
string(SHA256 hash "${listing}")
set(content "#pragma once\n#define LOCALLEAP_SOURCE_HASH \"${hash}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT "${old}" STREQUAL "${content}")
  file(WRITE "${OUT}" "${content}")
endif()
