# Shared by up.sh and down.sh: which daemons are this cluster's own.

# pid_of NAME: the pid recorded for daemon NAME (in $DIR/pids), if that process is
# alive and is that daemon with our state directory on its command line (guards
# against pid reuse). Fails otherwise.
pid_of() {
  local pidfile=$DIR/pids/$1.pid pid cmd
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == "$1 "*" $DIR/"* || $cmd == "$1 "*"=$DIR/"* ]] || return 1
  echo "$pid"
}
