# Headquarters and dispatch: the scripted week that drives the real
# `lastmile-server` and `lastmile` binaries (Python 3, stdlib).
if(NOT TARGET lastmile OR NOT TARGET lastmile-server)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_FOUND)
  return()
endif()
# It takes about 170 s alone on a loaded 2-core machine (ASan), so it has
# room for the rest of the suite running beside it.
add_test(NAME hq_week COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_hq.py)
set_tests_properties(hq_week PROPERTIES
  TIMEOUT 480
  ENVIRONMENT "LASTMILE_BIN=$<TARGET_FILE:lastmile>;LASTMILE_SERVER_BIN=$<TARGET_FILE:lastmile-server>;PYTHONDONTWRITEBYTECODE=1")

add_executable(hq_table_test ${CMAKE_CURRENT_SOURCE_DIR}/unit/hq/hq_table_test.c)
target_include_directories(hq_table_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(hq_table_test PRIVATE lm_server)
add_test(NAME hq_table COMMAND hq_table_test)

# A stop re-planned by the dispatcher while its agent arrives and loads
# offline: merged without a conflict in either sync order.
add_test(NAME hq_stop_merge COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_stop_merge.py)
set_tests_properties(hq_stop_merge PROPERTIES
  TIMEOUT 240
  ENVIRONMENT "LASTMILE_BIN=$<TARGET_FILE:lastmile>;LASTMILE_SERVER_BIN=$<TARGET_FILE:lastmile-server>;PYTHONDONTWRITEBYTECODE=1")

# report agents' waiting_push when a session is cut in the middle of a push
# (a frame-aware relay between agent and server).
add_test(NAME hq_agents_waiting COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_agents_waiting.py)
set_tests_properties(hq_agents_waiting PROPERTIES
  TIMEOUT 240
  ENVIRONMENT "LASTMILE_BIN=$<TARGET_FILE:lastmile>;LASTMILE_SERVER_BIN=$<TARGET_FILE:lastmile-server>;PYTHONDONTWRITEBYTECODE=1")

# Headquarters' figures are true (issue 21): reconcile against what was
# waiting at each stop, poverty by the register, the register import's
# refusals, each checked against figures the script computes itself.
add_test(NAME hq_figures COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_hq_figures.py)
set_tests_properties(hq_figures PROPERTIES
  TIMEOUT 240
  ENVIRONMENT "LASTMILE_BIN=$<TARGET_FILE:lastmile>;LASTMILE_SERVER_BIN=$<TARGET_FILE:lastmile-server>;PYTHONDONTWRITEBYTECODE=1")
