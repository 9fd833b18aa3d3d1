# Runs junction_zmq_bench (BENCH) for a few tens of milliseconds per case
# into a fresh OUT_DIR and checks that it succeeded and wrote both reports,
# the JSON with all 16 cases.
file(REMOVE_RECURSE "${OUT_DIR}")
execute_process(COMMAND "${BENCH}" --seconds 0.05 --out-dir "${OUT_DIR}" RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "junction_zmq_bench failed: ${status}")
endif()
foreach(report zmq-latest.md zmq-latest.json)
  if(NOT EXISTS "${OUT_DIR}/${report}")
    message(FATAL_ERROR "junction_zmq_bench did not write ${OUT_DIR}/${report}")
  endif()
endforeach()
file(READ "${OUT_DIR}/zmq-latest.json" json)
string(JSON cases LENGTH "${json}" cases)
if(NOT cases EQUAL 16)
  message(FATAL_ERROR "zmq-latest.json holds ${cases} cases, not 16")
endif()
