# tests/security: each attack of the security review (issue 18) against the
# real binaries on loopback: eavesdropping, tampering, session take-over and
# replay, another user's site, a revoked live session, a copied server.db,
# a server with another identity, file modes.
if(NOT TARGET lastmile OR NOT TARGET lastmile-server)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_FOUND)
  return()
endif()
foreach(t eavesdrop hijack site_binding revoke_live db_copy identity file_modes rotation enrol_qr revoke_race)
  add_test(NAME security_${t}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/security/test_${t}.py)
  set_tests_properties(security_${t} PROPERTIES
    TIMEOUT 240
    ENVIRONMENT "LASTMILE_BIN=$<TARGET_FILE:lastmile>;LASTMILE_SERVER_BIN=$<TARGET_FILE:lastmile-server>;PYTHONDONTWRITEBYTECODE=1")
endforeach()
