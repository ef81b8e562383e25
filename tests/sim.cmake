# The randomized convergence simulation. CI runs 160 seeds (1..160) in four
# ctest entries so they spread over the cores; each seed has a server, hq,
# a dispatcher and 2-3 agents and ~30 random steps. A soak runs bigger
# worlds for longer:
#   build/tests/sim_converge --seeds 10000 --agents 10 --ops 150
add_executable(sim_converge ${CMAKE_CURRENT_SOURCE_DIR}/sim/sim_converge.c)
target_link_libraries(sim_converge PRIVATE lm_sync)
foreach(part RANGE 0 3)
  math(EXPR first "${part} * 40 + 1")
  add_test(NAME sync_sim_converge_${part}
           COMMAND sim_converge --seeds 40 --first ${first} --agents 3 --ops 30)
  set_tests_properties(sync_sim_converge_${part} PROPERTIES TIMEOUT 300)
endforeach()
