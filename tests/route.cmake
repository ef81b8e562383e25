# The route solver (route/): one unit test executable per
# tests/unit/route/*.c, named route_<file without test_>; route_bench runs
# bench_routing on three CVRPLIB instances (tests/data/routing) and checks
# its routes with bench/routing/check_routes.py — correctness, not speed.
if(NOT TARGET lm_route)
  return()
endif()
file(GLOB LM_ROUTE_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/unit/route/*.c)
foreach(src ${LM_ROUTE_TEST_SOURCES})
  get_filename_component(stem ${src} NAME_WE)
  string(REGEX REPLACE "^test_" "" short ${stem})
  add_executable(route_${short} ${src})
  target_include_directories(route_${short} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(route_${short} PRIVATE lm_route)
  add_test(NAME route_${short} COMMAND route_${short})
  set_tests_properties(route_${short} PROPERTIES TIMEOUT 120)
endforeach()

find_package(Python3 COMPONENTS Interpreter)
if(LM_BENCH AND Python3_FOUND)
  set(data ${CMAKE_CURRENT_SOURCE_DIR}/data/routing)
  add_test(NAME route_bench
           COMMAND ${CMAKE_COMMAND} -DBENCH=$<TARGET_FILE:bench_routing>
                   -DCHECK=${PROJECT_SOURCE_DIR}/bench/routing/check_routes.py
                   -DPYTHON=${Python3_EXECUTABLE} -DDATA=${data}
                   -DOUT=${CMAKE_CURRENT_BINARY_DIR}/route_bench.jsonl
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/unit/route/run_bench.cmake)
  set_tests_properties(route_bench PROPERTIES TIMEOUT 120)
endif()
