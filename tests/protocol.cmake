# Unit tests of the protocol library: one executable and one ctest test per
# tests/unit/protocol/*.c, named protocol_<file without test_>. They may
# include protocol/src internals to test the msgpack reader directly, and
# link msgpack-c as an independent oracle for what we put on the wire.
file(GLOB LM_PROTOCOL_TEST_SOURCES CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_SOURCE_DIR}/unit/protocol/*.c)
foreach(src ${LM_PROTOCOL_TEST_SOURCES})
  get_filename_component(stem ${src} NAME_WE)
  string(REGEX REPLACE "^test_" "" short ${stem})
  set(target protocol_${short})
  add_executable(${target} ${src})
  target_include_directories(${target} PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/unit/protocol
    ${PROJECT_SOURCE_DIR}/protocol/src)
  target_link_libraries(${target} PRIVATE lm_protocol PkgConfig::MSGPACK)
  add_test(NAME ${target} COMMAND ${target})
  set_tests_properties(${target} PROPERTIES TIMEOUT 120)
endforeach()
