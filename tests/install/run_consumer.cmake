# Installs the build tree into a scratch prefix, then configures, builds and runs an
# outside project that uses find_package(ScopeFlow) + scopeflow::scopeflow.
file(REMOVE_RECURSE ${SF_WORK_DIR})
set(prefix ${SF_WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()
run(${CMAKE_COMMAND} --install ${SF_BUILD_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${SF_CONSUMER_SOURCE} -B ${SF_WORK_DIR}/build -G ${SF_GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${SF_WORK_DIR}/build)
run(${SF_WORK_DIR}/build/consumer)
if(NOT EXISTS ${prefix}/bin/sf-demo)
  message(FATAL_ERROR "sf-demo was not installed into ${prefix}/bin")
endif()
