# ASan+UBSan for the test build, TSan for the threaded parts (exclusive).
if(WT_ASAN AND WT_TSAN)
  message(FATAL_ERROR "WT_ASAN and WT_TSAN cannot be combined")
endif()
if(WT_ASAN)
  set(_wt_san -fsanitize=address,undefined -fno-sanitize-recover=undefined
              -fno-omit-frame-pointer)
  add_compile_options(${_wt_san})
  add_link_options(${_wt_san})
endif()
if(WT_TSAN)
  # WT_TSAN_FLAGS: tests/CMakeLists.txt builds one helper library without them
  set(WT_TSAN_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
  add_compile_options(${WT_TSAN_FLAGS})
  add_link_options(${WT_TSAN_FLAGS})
endif()
