# Fuzzing of the wire decoders.
#
# protocol_fuzz_corpus (always built) regenerates the committed seed corpora
# and is also run as a test that every seed still decodes, so a wire change
# cannot silently leave the fuzzers starting from junk:
#   build/tests/protocol_fuzz_corpus tests/fuzz/corpus
#
# With LM_FUZZ=ON (clang), fuzz_frame and fuzz_msg are libFuzzer targets and
# ctest runs each for 20 s over a copy of its corpus in the build tree; so
# is fuzz_vrp, the CVRPLIB reader (route/), whose seeds in corpus/vrp are
# written by hand (small instances, the depot not first, split demand).
add_executable(protocol_fuzz_corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/gen_corpus.c)
target_include_directories(protocol_fuzz_corpus PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/unit/protocol)
target_link_libraries(protocol_fuzz_corpus PRIVATE lm_protocol)
add_test(NAME protocol_fuzz_corpus_current
         COMMAND ${CMAKE_COMMAND} -DGEN=$<TARGET_FILE:protocol_fuzz_corpus>
                 -DCORPUS=${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus
                 -DWORK=${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus-check
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/check_corpus.cmake)

if(LM_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LM_FUZZ needs clang (libFuzzer)")
  endif()
  # Coverage feedback needs the library instrumented too.
  target_compile_options(lm_protocol PRIVATE -fsanitize=fuzzer-no-link)
  foreach(name frame msg)
    add_executable(fuzz_${name} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_${name}.c)
    target_include_directories(fuzz_${name} PRIVATE
      ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/unit/protocol)
    target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${name} PRIVATE lm_protocol)
    add_test(NAME fuzz_${name}
             COMMAND ${CMAKE_COMMAND} -DFUZZER=$<TARGET_FILE:fuzz_${name}>
                     -DCORPUS=${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name}
                     -DWORK=${CMAKE_CURRENT_BINARY_DIR}/fuzz-work/${name} -DSECONDS=20
                     -P ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.cmake)
    set_tests_properties(fuzz_${name} PROPERTIES TIMEOUT 120)
  endforeach()
  if(TARGET lm_route)
    target_compile_options(lm_route PRIVATE -fsanitize=fuzzer-no-link)
    add_executable(fuzz_vrp ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_vrp.c)
    target_include_directories(fuzz_vrp PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_compile_options(fuzz_vrp PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_vrp PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_vrp PRIVATE lm_route)
    add_test(NAME fuzz_vrp
             COMMAND ${CMAKE_COMMAND} -DFUZZER=$<TARGET_FILE:fuzz_vrp>
                     -DCORPUS=${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/vrp
                     -DWORK=${CMAKE_CURRENT_BINARY_DIR}/fuzz-work/vrp -DSECONDS=20
                     -P ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.cmake)
    set_tests_properties(fuzz_vrp PROPERTIES TIMEOUT 120)
  endif()
  # The server's validation of received changes (the ledger's rules and the
  # merge), over a replica with a small catalog.
  if(TARGET lm_sync)
    target_compile_options(lm_sync PRIVATE -fsanitize=fuzzer-no-link)
    add_executable(fuzz_ledger ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_ledger.c)
    target_include_directories(fuzz_ledger PRIVATE ${PROJECT_SOURCE_DIR}/sync/src)
    target_compile_options(fuzz_ledger PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_ledger PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_ledger PRIVATE lm_sync)
    add_test(NAME fuzz_ledger
             COMMAND ${CMAKE_COMMAND} -DFUZZER=$<TARGET_FILE:fuzz_ledger>
                     -DCORPUS=${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/ledger
                     -DWORK=${CMAKE_CURRENT_BINARY_DIR}/fuzz-work/ledger -DSECONDS=20
                     -P ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.cmake)
    set_tests_properties(fuzz_ledger PROPERTIES TIMEOUT 120)
  endif()
endif()
