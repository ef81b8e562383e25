# Unit tests of the replica engine: one executable per file in unit/sync.
file(GLOB LM_SYNC_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/sync/*.c)
foreach(src ${LM_SYNC_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE lm_sync)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT 120)
endforeach()

# The engine's files call only downward (the list at the top of
# sync/src/sync_internal.h), read from the object files' symbols.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND AND CMAKE_NM)
  add_test(NAME sync_layers
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/unit/sync/sync_layers.py
                   ${CMAKE_NM} ${PROJECT_SOURCE_DIR}/sync/src/sync_internal.h
                   $<TARGET_OBJECTS:lm_sync>
           COMMAND_EXPAND_LISTS)
  set_tests_properties(sync_layers PROPERTIES TIMEOUT 60)
endif()
