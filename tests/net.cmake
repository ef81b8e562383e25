# net/: enrolment strings, device keys, the server identity and lm_conn
# over loopback TLS (tests/unit/net).
if(NOT TARGET lm_net)
  return()
endif()
add_executable(net_test ${CMAKE_CURRENT_SOURCE_DIR}/unit/net/net_test.c)
target_include_directories(net_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(net_test PRIVATE lm_net)
add_test(NAME net COMMAND net_test)
set_tests_properties(net PROPERTIES TIMEOUT 60)
