# The randomized convergence simulation. CI runs 290 seeds in six ctest
# entries so they spread over the cores: 240 small worlds (seeds 1..240: a
# server, hq, a dispatcher and 2-3 agents, ~30 random steps) and 50 big ones
# (seeds 100001..100050: up to 12 agents, ~60 steps). A soak runs bigger
# worlds for longer:
#   build/tests/sim_converge --seeds 10000 --agents 12 --ops 150
add_executable(sim_converge ${CMAKE_CURRENT_SOURCE_DIR}/sim/sim_converge.c)
target_link_libraries(sim_converge PRIVATE lm_sync)
foreach(part RANGE 0 3)
  math(EXPR first "${part} * 60 + 1")
  add_test(NAME sync_sim_converge_${part}
           COMMAND sim_converge --seeds 60 --first ${first} --agents 3 --ops 30)
  set_tests_properties(sync_sim_converge_${part} PROPERTIES TIMEOUT 400)
endforeach()
foreach(part RANGE 0 1)
  math(EXPR first "${part} * 25 + 100001")
  add_test(NAME sync_sim_converge_big_${part}
           COMMAND sim_converge --seeds 25 --first ${first} --agents 12 --ops 60)
  set_tests_properties(sync_sim_converge_big_${part} PROPERTIES TIMEOUT 400)
endforeach()
