# node-gyp build of the CPU variant, for machines without CMake (`npm run build:gyp`, or
# LOCALLEAP_BUILD=gyp at install). CMakeLists.txt (cmake-js) is the main build and the only one
# that builds the CUDA variant. Both read the sources, defines and flags from native/sources.json.
{
  "targets": [
    {
      "target_name": "localleap",
      "sources": ["<!@(node -p \"require('./native/sources.json').common.join(' ')\")"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node tools/gyp/libtorch.js includes)"
      ],
      "defines": ["<!@(node -p \"require('./native/sources.json').defines.join(' ')\")"],
      "cflags_cc": [
        "<!@(node -p \"require('./native/sources.json').cxxflags.join(' ')\")",
        "<!@(node tools/gyp/libtorch.js cflags)"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++1y"],
      "libraries": ["<!@(node tools/gyp/libtorch.js libraries)"],
      "ldflags": ["<!@(node tools/gyp/libtorch.js ldflags)"]
    }
  ]
}
