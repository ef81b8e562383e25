# Regenerates the seed corpora into a scratch dir and compares them with the
# committed ones: a wire change must come with a regenerated corpus.
#   cmake -DGEN=<protocol_fuzz_corpus> -DCORPUS=<committed> -DWORK=<scratch> -P check_corpus.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/msg ${WORK}/frame)
execute_process(COMMAND ${GEN} ${WORK} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "corpus generator failed (${rc})")
endif()
foreach(sub msg frame)
  file(GLOB fresh RELATIVE ${WORK}/${sub} ${WORK}/${sub}/*)
  foreach(f ${fresh})
    # hashed in-process: spawning a compare per file is slow on a busy CI box
    file(SHA256 ${WORK}/${sub}/${f} fresh_hash)
    set(committed_hash none)
    if(EXISTS ${CORPUS}/${sub}/${f})
      file(SHA256 ${CORPUS}/${sub}/${f} committed_hash)
    endif()
    if(NOT fresh_hash STREQUAL committed_hash)
      message(FATAL_ERROR "seed ${sub}/${f} differs from a fresh encoding: regenerate with "
                          "protocol_fuzz_corpus ${CORPUS}")
    endif()
  endforeach()
endforeach()
