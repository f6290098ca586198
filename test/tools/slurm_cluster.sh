#!/usr/bin/env bash
# A private one-node Slurm cluster for tests (Debian slurm-wlm 22.05 + munge, run as root).
#
#   slurm_cluster.sh start DIR [WATCH_PID]   writes DIR/slurm.conf and a munge key, starts munged, slurmctld and slurmd
#                                            (all state, sockets, ports and logs private to DIR), waits until sinfo
#                                            shows the node idle, prints SLURM_CONF=DIR/slurm.conf. With WATCH_PID a
#                                            watchdog stops the cluster as soon as that process is gone (a test killed
#                                            with -9 leaves no daemons behind, and it removes DIR).
#   slurm_cluster.sh stop DIR                cancels every job of this cluster, waits for them, then stops the
#                                            daemons it started, by the pids recorded in DIR/pids.
#
# Exit status of start: 0 up; 2 cannot run here (not root, packages missing, another slurmctld already running on
# this machine) with one line saying why on stderr; 1 started but failed (logs in DIR).
set -uo pipefail

cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 start|stop DIR [WATCH_PID]" >&2; exit 64; }
dir=$(realpath -m "$dir")
self=$(realpath "$0")
pids="$dir/pids"

say() { echo "slurm_cluster: $*" >&2; }

# A zombie (exited, not yet reaped by init) counts as gone.
alive() { [[ -n ${1:-} && -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# Every live process whose /proc/PID/comm is exactly NAME (no pkill: we only ever signal pids we know).
pids_named() {
  local p
  for p in /proc/[0-9]*; do
    [[ $(cat "$p/comm" 2>/dev/null) == "$1" ]] && alive "${p#/proc/}" && echo "${p#/proc/}"
  done
}

free_port() {
  local p used
  used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://')
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    grep -qx "$p" <<<"$used" || { echo "$p"; return; }
  done
  return 1
}

stop_cluster() {
  [[ -f $pids ]] || return 0
  export SLURM_CONF="$dir/slurm.conf"
  # Jobs first: slurmstepd and the job's processes are not children of slurmd and would outlive it.
  if alive "$(awk '$1=="slurmctld"{print $2}' "$pids")"; then
    timeout 10 scancel --full --quiet --partition=test 2>/dev/null
    for _ in $(seq 100); do
      [[ -z $(timeout 5 squeue --noheader --partition=test 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
  local name pid
  # slurmd before slurmctld before munged (each needs the next one to shut down cleanly); the watchdog last.
  for name in watchdog slurmd slurmctld munged; do
    pid=$(awk -v n="$name" '$1==n{print $2}' "$pids")
    [[ $name == watchdog && $pid == "${WATCHDOG_SELF:-}" ]] && continue
    alive "$pid" || continue
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  rm -f "$pids"
}

start_cluster() {
  local watch=${1:-}
  [[ $(id -u) == 0 ]] || { say "needs root (munged and slurmd run as root here)"; exit 2; }
  local b
  for b in munged slurmctld slurmd sinfo sbatch squeue scancel; do
    command -v "$b" >/dev/null || { say "$b not found (apt-get install slurm-wlm munge)"; exit 2; }
  done
  local other
  other=$(pids_named slurmctld | head -1)
  if [[ -n $other ]]; then
    say "a slurmctld (pid $other) is already running on this machine; not starting a second one (set GANC_SLURM=existing to use the cluster SLURM_CONF points to)"
    exit 2
  fi

  mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
  chmod 700 "$dir/munge"
  local host cpus ctld_port d_port
  host=$(hostname -s)
  cpus=$(nproc)
  ctld_port=$(free_port) && d_port=$(free_port) || { say "no free TCP port found"; exit 1; }
  [[ $ctld_port != "$d_port" ]] || d_port=$((ctld_port + 1))

  # munge: a fresh key and a private socket (slurm finds it through AuthInfo/CredType's socket=).
  head -c 1024 /dev/urandom >"$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
  local sock="$dir/munge/munge.socket"
  cat >"$dir/slurm.conf" <<EOF
ClusterName=ganctest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=600
KillWait=5
SchedulerParameters=sched_interval=1
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$dir/slurm.conf"

  : >"$pids"
  # -F / -D: foreground, so $! is the daemon's own pid; setsid: no terminal signals reach them.
  setsid munged --foreground --force --socket="$sock" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
    </dev/null >>"$dir/log/munged.out" 2>&1 &
  echo "munged $!" >>"$pids"
  for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
  [[ -S $sock ]] || { say "munged did not start (see $dir/log/munged.*)"; stop_cluster; exit 1; }

  setsid slurmctld -D -i </dev/null >>"$dir/log/slurmctld.out" 2>&1 &
  echo "slurmctld $!" >>"$pids"
  setsid slurmd -D </dev/null >>"$dir/log/slurmd.out" 2>&1 &
  echo "slurmd $!" >>"$pids"

  if [[ -n $watch ]]; then
    # Stops the cluster once WATCH_PID is gone, however it ended.
    setsid bash -c 'while kill -0 "$2" 2>/dev/null && [[ -f "$3" ]]; do sleep 1; done; WATCHDOG_SELF=$$ "$0" stop "$1"; rm -rf "$1"' \
      "$self" "$dir" "$watch" "$pids" </dev/null >>"$dir/log/watchdog.out" 2>&1 &
    echo "watchdog $!" >>"$pids"
  fi

  local state=""
  for _ in $(seq 150); do
    state=$(timeout 5 sinfo --noheader --nodes="$host" --format=%t 2>/dev/null | head -1)
    [[ $state == idle ]] && break
    sleep 0.2
  done
  if [[ $state != idle ]]; then
    say "node $host not idle after 30 s (state '${state:-no answer}'; logs in $dir/log)"
    stop_cluster
    exit 1
  fi
  echo "SLURM_CONF=$SLURM_CONF"
}

case $cmd in
  start) start_cluster "${3:-}" ;;
  stop) stop_cluster ;;
  *) echo "usage: $0 start|stop DIR [WATCH_PID]" >&2; exit 64 ;;
esac
