# lastmile-server: unit tests of its pieces and an end-to-end test that
# drives the real binary over loopback (names start with server_).
if(NOT TARGET lastmile-server)
  message(STATUS "server tests: lastmile-server not built yet, skipped")
  return()
endif()

add_executable(server_unit_test ${CMAKE_CURRENT_SOURCE_DIR}/unit/server/server_unit_test.c)
target_include_directories(server_unit_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(server_unit_test PRIVATE lm_server PkgConfig::SQLITE3)
add_test(NAME server_unit COMMAND server_unit_test)

add_executable(server_e2e_test ${CMAKE_CURRENT_SOURCE_DIR}/unit/server/server_e2e_test.c
                               ${CMAKE_CURRENT_SOURCE_DIR}/unit/server/proc.c)
target_include_directories(server_e2e_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}
                                                   ${CMAKE_CURRENT_SOURCE_DIR}/unit/server)
target_compile_definitions(server_e2e_test PRIVATE
                           LM_SERVER_BIN="$<TARGET_FILE:lastmile-server>")
target_link_libraries(server_e2e_test PRIVATE lm_net lm_sync lm_protocol PkgConfig::SQLITE3)
add_dependencies(server_e2e_test lastmile-server)
add_test(NAME server_e2e COMMAND server_e2e_test)
set_tests_properties(server_e2e PROPERTIES TIMEOUT 120)

add_executable(server_drain_test ${CMAKE_CURRENT_SOURCE_DIR}/unit/server/server_drain_test.c
                                 ${CMAKE_CURRENT_SOURCE_DIR}/unit/server/proc.c)
target_include_directories(server_drain_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}
                                                     ${CMAKE_CURRENT_SOURCE_DIR}/unit/server)
target_compile_definitions(server_drain_test PRIVATE
                           LM_SERVER_BIN="$<TARGET_FILE:lastmile-server>")
target_link_libraries(server_drain_test PRIVATE lm_net lm_sync lm_protocol PkgConfig::SQLITE3)
add_dependencies(server_drain_test lastmile-server)
add_test(NAME server_drain COMMAND server_drain_test)
set_tests_properties(server_drain PROPERTIES TIMEOUT 120)

add_executable(server_chaos_test ${CMAKE_CURRENT_SOURCE_DIR}/unit/server/server_chaos_test.c
                                 ${CMAKE_CURRENT_SOURCE_DIR}/unit/server/proc.c)
target_include_directories(server_chaos_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}
                                                     ${CMAKE_CURRENT_SOURCE_DIR}/unit/server)
target_compile_definitions(server_chaos_test PRIVATE
                           LM_SERVER_BIN="$<TARGET_FILE:lastmile-server>")
target_link_libraries(server_chaos_test PRIVATE lm_net lm_protocol PkgConfig::SQLITE3)
add_dependencies(server_chaos_test lastmile-server)
add_test(NAME server_chaos COMMAND server_chaos_test)
set_tests_properties(server_chaos PROPERTIES TIMEOUT 120)
