# The randomized convergence simulation. CI runs a bounded set of seeds in
# a few ctest entries (so they can run in parallel); a soak is
#   build/tests/sim_converge --seeds 10000
add_executable(sim_converge ${CMAKE_CURRENT_SOURCE_DIR}/sim/sim_converge.c)
target_link_libraries(sim_converge PRIVATE lm_sync)
foreach(part RANGE 0 3)
  math(EXPR first "${part} * 50 + 1")
  add_test(NAME sync_sim_converge_${part}
           COMMAND sim_converge --seeds 50 --first ${first} --agents 3 --ops 40)
  set_tests_properties(sync_sim_converge_${part} PROPERTIES TIMEOUT 300)
endforeach()
