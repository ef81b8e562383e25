# The field tool's unit tests and the end-to-end tests that drive the real
# `lastmile-server` and `lastmile` binaries over loopback (Python 3, stdlib).
if(NOT TARGET lm_text)
  return()
endif()

foreach(t money json args table hostile)
  add_executable(text_${t}_test ${CMAKE_CURRENT_SOURCE_DIR}/unit/text/text_${t}_test.c)
  target_include_directories(text_${t}_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(text_${t}_test PRIVATE lm_text)
  add_test(NAME text_${t} COMMAND text_${t}_test)
endforeach()

if(TARGET lm_agent)
  add_executable(agent_sync_client_test ${CMAKE_CURRENT_SOURCE_DIR}/unit/agent_sync_client_test.c)
  target_include_directories(agent_sync_client_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(agent_sync_client_test PRIVATE lm_agent)
  add_test(NAME agent_sync_client COMMAND agent_sync_client_test)
  set_tests_properties(agent_sync_client PROPERTIES TIMEOUT 60)
  add_executable(agent_plan_svg_test ${CMAKE_CURRENT_SOURCE_DIR}/unit/agent_plan_svg_test.c)
  target_include_directories(agent_plan_svg_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(agent_plan_svg_test PRIVATE lm_agent)
  add_test(NAME agent_plan_svg COMMAND agent_plan_svg_test)
endif()

if(NOT TARGET lastmile OR NOT TARGET lastmile-server)
  message(STATUS "integration: lastmile / lastmile-server not built yet, end-to-end tests skipped")
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_FOUND)
  message(STATUS "integration: python3 not found, end-to-end tests skipped")
  return()
endif()
foreach(t sync auth input drop conflicts retry pipeline checkpoint queue_limit big_rows
          slow_writer farmers paying route_geo route_roads ledger_rules damaged disk_full restore
          hostile_text dates bounds floods readable conflicts_hq scope_move user_batch clones
          admin features)
  add_test(NAME integration_${t}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_${t}.py)
  set_tests_properties(integration_${t} PROPERTIES
    TIMEOUT 240
    ENVIRONMENT "LASTMILE_BIN=$<TARGET_FILE:lastmile>;LASTMILE_SERVER_BIN=$<TARGET_FILE:lastmile-server>;PYTHONDONTWRITEBYTECODE=1")
endforeach()
# test_disk_full.py mounts a small tmpfs; where it may not, it skips.
set_tests_properties(integration_disk_full PROPERTIES SKIP_RETURN_CODE 77)

# Power cuts (test_powercut.py): the real `lastmile` and `lastmile-server`
# mains over tests/powercut/powercut_vfs.c, a VFS that keeps what each
# fsync made durable. Test-only executables; nothing installs them.
add_executable(lastmile-powercut ${PROJECT_SOURCE_DIR}/agent-cli/main.c
                                 ${CMAKE_CURRENT_SOURCE_DIR}/powercut/powercut_vfs.c)
target_link_libraries(lastmile-powercut PRIVATE lm_agent)
add_executable(lastmile-server-powercut ${PROJECT_SOURCE_DIR}/server/main.c
                                        ${CMAKE_CURRENT_SOURCE_DIR}/powercut/powercut_vfs.c)
target_link_libraries(lastmile-server-powercut PRIVATE lm_server)
add_test(NAME integration_powercut
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_powercut.py)
set_tests_properties(integration_powercut PROPERTIES
  TIMEOUT 300
  ENVIRONMENT "LASTMILE_BIN=$<TARGET_FILE:lastmile-powercut>;LASTMILE_SERVER_BIN=$<TARGET_FILE:lastmile-server-powercut>;PYTHONDONTWRITEBYTECODE=1")
