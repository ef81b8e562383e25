# route_bench: bench_routing on the instances in DATA (no time cap, so the
# run is the seed's), then check_routes.py over its output: every route
# feasible, every customer once, costs as recomputed, gaps within 3 %.
file(GLOB files ${DATA}/*.vrp)
execute_process(COMMAND ${BENCH} --seed 7 --ms 0 ${files} OUTPUT_FILE ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench_routing failed (${rc})")
endif()
execute_process(COMMAND ${PYTHON} ${CHECK} --best-known ${DATA}/best-known.csv --max-gap 3 ${OUT}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "check_routes.py failed (${rc})")
endif()
