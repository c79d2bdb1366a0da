# Shell helpers shared by the demo and the tests that kill MPI jobs. Source it; it defines functions only.

# kill_session SID: SIGKILL every process of session SID (mpirun's process group first, then the
# ranks, which Open MPI puts in process groups of their own within the same session). Returns 0 once
# none is left, 1 (naming the survivors on stderr) if some survive 10 s of SIGKILLs.
kill_session() {
  local session=$1 pids="" tries
  kill -KILL -- "-$session" 2>/dev/null || true
  for ((tries = 0; tries < 100; tries++)); do
    pids=$(pgrep -s "$session" || true)
    [[ -z $pids ]] && return 0
    # shellcheck disable=SC2086  # one pid per word
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  echo "kill_session: processes of session $session survive SIGKILL: $pids" >&2
  return 1
}
