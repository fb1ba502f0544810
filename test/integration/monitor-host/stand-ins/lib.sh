# Shared by the monitor host bootstrap's stand-ins (sourced, inside the test's
# chroot). Each stand-in records its arguments and environment, and looks at
# every process's arguments and environment for the token (or its parts) at
# the moment it runs: the token must only ever travel on a pipe or in the
# bootstrap's private tmpfs. /standins/aws plays AWS's side (the stored
# parameter, the expected token) and is the one place the token may be.
STATE=/standins/state
standin_record() {
  standin_name=${0##*/}
  {
    printf '%s' "$standin_name"
    for standin_arg in "$@"; do printf ' [%s]' "$standin_arg"; done
    printf '\n'
  } >>"$STATE/calls.log"
  env >"$STATE/env/$standin_name.$$"
  for standin_file in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do
    [ -r "$standin_file" ] || continue
    if tr '\000' '\n' <"$standin_file" 2>/dev/null | grep -q -F -f /standins/aws/token.patterns; then
      printf '%s saw the token in %s\n' "$standin_name" "$standin_file" >>"$STATE/violations"
    fi
  done
}
standin_mode() {
  cat "$STATE/mode/$1" 2>/dev/null
}
