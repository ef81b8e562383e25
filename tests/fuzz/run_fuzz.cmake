# Runs a libFuzzer target over a fresh copy of its committed seed corpus so
# CI never grows the corpus in the source tree.
#   cmake -DFUZZER=<exe> -DCORPUS=<src dir> -DWORK=<scratch dir> -DSECONDS=<n> -P run_fuzz.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
file(COPY ${CORPUS}/ DESTINATION ${WORK})
execute_process(COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=1024
                        -print_final_stats=1 ${WORK}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${rc})")
endif()
