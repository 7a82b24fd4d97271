#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for checking deploy/slurm-collect.sh on a real engine.
#
#   scripts/cluster/slurm-local.sh [start]   install (apt) if missing, configure, start, wait until idle
#   scripts/cluster/slurm-local.sh status    print daemon and node state; exit 0 when the node is usable
#   scripts/cluster/slurm-local.sh stop      shut slurmctld, slurmd and munged down
#
# Needs root and Debian/Ubuntu packages (slurmctld, slurmd, slurm-client, munge). Starts the daemons
# directly, without systemd, so it also works in containers: no cgroups (proctrack/linuxproc,
# task/none), no accounting, SlurmUser=root. Running `start` again is harmless: daemons that already
# answer are left alone (restarted only if the generated slurm.conf changed).
#
# The node is this host (`hostname -s`) with its real CPU count (`nproc`) and memory (`slurmd -C`),
# in one partition `local`. Files: /etc/slurm/slurm.conf (written only if absent or written by this
# script), /etc/munge/munge.key (created if absent), /var/spool/slurm{ctld,d}, /var/log/slurm,
# /run/slurm, /run/munge.
#
# Environment: SLURM_LOCAL_TIMEOUT (seconds to wait for the node, default 60),
# SLURM_LOCAL_NO_INSTALL=1 (fail instead of running apt-get when a package is missing).
set -euo pipefail

MARKER="# Written by corrsteer scripts/cluster/slurm-local.sh"
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}
RUN_DIR=/run/slurm
LOG_DIR=/var/log/slurm
CTLD_PID=$RUN_DIR/slurmctld.pid
SLURMD_PID=$RUN_DIR/slurmd.pid
MUNGE_PID=/run/munge/munged.pid
NODE=$(hostname -s)

say() { echo "slurm-local: $*" >&2; }
die() { say "error: $*"; exit 1; }

# The pid in FILE if that process is alive, else nothing.
live_pid() {
    local pid
    [[ -r $1 ]] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

install_packages() {
    local missing=()
    command -v munged >/dev/null || missing+=(munge)
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    ((${#missing[@]} == 0)) && return 0
    [[ ${SLURM_LOCAL_NO_INSTALL:-0} == 1 ]] && die "missing ${missing[*]} and SLURM_LOCAL_NO_INSTALL=1"
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    say "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # Package scripts must not try to start services (there may be no systemd); we start them below.
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/slurm-local-apt.log 2>&1; then
        apt-get update -qq >>/tmp/slurm-local-apt.log 2>&1 || true
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/slurm-local-apt.log 2>&1 ||
            { tail -20 /tmp/slurm-local-apt.log >&2; die "apt-get install ${missing[*]} failed"; }
    fi
    command -v munged >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
        command -v sbatch >/dev/null || die "installed ${missing[*]} but the commands are still missing"
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    id munge >/dev/null 2>&1 || die "no 'munge' user (is the munge package installed?)"
    install -d -m 0700 -o munge -g munge /etc/munge /var/lib/munge /var/log/munge
    install -d -m 0755 -o munge -g munge /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        say "creating /etc/munge/munge.key"
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key --force
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    # A munged that answers is kept, whoever started it (e.g. a munge service).
    if munge_works; then return 0; fi
    say "starting munged"
    # munged refuses to reuse a socket whose lock file is held; a stale one from a dead daemon is not.
    runuser -u munge -- /usr/sbin/munged --force
    for _ in $(seq 50); do munge_works && return 0; sleep 0.2; done
    tail -5 /var/log/munge/munged.log >&2 2>/dev/null || true
    die "munged does not answer (munge -n | unmunge fails)"
}

write_conf() {
    local cpus memory conf
    cpus=$(nproc)
    # slurmd -C reports what slurmd will measure; configuring more memory than that drains the node.
    memory=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)
    [[ -n $memory ]] || memory=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
    conf=$(cat <<EOF
$MARKER for a single-node test cluster.
ClusterName=corrsteer-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=600
KillWait=5
Waittime=0
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
)
    if [[ -f $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        die "$CONF exists and was not written by this script; move it away to use the local test cluster"
    fi
    install -d -m 0755 "$CONF_DIR"
    if [[ -f $CONF ]] && [[ $(cat "$CONF") == "$conf" ]]; then
        return 1  # unchanged
    fi
    say "writing $CONF (node $NODE, $cpus CPUs, $memory MB)"
    printf '%s\n' "$conf" >"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
    return 0
}

stop_slurm() {
    local pid file
    for file in "$SLURMD_PID" "$CTLD_PID"; do
        if pid=$(live_pid "$file"); then
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$file"
    done
}

node_state() { sinfo -h -N -n "$NODE" -o '%t' 2>/dev/null | head -1; }

start() {
    [[ $(id -u) == 0 ]] || die "needs root (it installs packages and starts daemons)"
    install_packages
    start_munge
    local changed=0
    write_conf && changed=1
    install -d -m 0755 "$RUN_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
    if ((changed)) && { live_pid "$CTLD_PID" >/dev/null || live_pid "$SLURMD_PID" >/dev/null; }; then
        say "configuration changed: restarting the daemons"
        stop_slurm
    fi
    if ! live_pid "$CTLD_PID" >/dev/null || ! scontrol ping >/dev/null 2>&1; then
        stop_slurm
        say "starting slurmctld"
        # -c: start from a clean state (no jobs or node states from an earlier test cluster).
        slurmctld -c -f "$CONF" || die "slurmctld failed to start; see $LOG_DIR/slurmctld.log"
    fi
    if ! live_pid "$SLURMD_PID" >/dev/null; then
        say "starting slurmd"
        slurmd -f "$CONF" || die "slurmd failed to start; see $LOG_DIR/slurmd.log"
    fi
    local state="" deadline=$((SECONDS + TIMEOUT))
    while ((SECONDS < deadline)); do
        state=$(node_state)
        case $state in
            idle | mix | alloc | comp) say "node $NODE is $state"; sinfo >&2; return 0 ;;
            drain* | drng | down*)
                # ReturnToService=2 revives a node that registers, but not one drained by hand.
                scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 0.5
    done
    tail -5 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 2>/dev/null || true
    die "node $NODE is '${state:-unknown}' after ${TIMEOUT}s, not idle"
}

status() {
    local ok=0
    if pid=$(live_pid "$MUNGE_PID"); then echo "munged    running (pid $pid)"; else echo "munged    not running"; ok=1; fi
    if pid=$(live_pid "$CTLD_PID"); then echo "slurmctld running (pid $pid)"; else echo "slurmctld not running"; ok=1; fi
    if pid=$(live_pid "$SLURMD_PID"); then echo "slurmd    running (pid $pid)"; else echo "slurmd    not running"; ok=1; fi
    ((ok == 0)) && sinfo -N -l 2>/dev/null || true
    return $ok
}

stop() {
    [[ $(id -u) == 0 ]] || die "needs root"
    stop_slurm
    local pid
    if pid=$(live_pid "$MUNGE_PID"); then
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    say "stopped"
}

case ${1:-start} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) die "usage: $0 [start|stop|status]" ;;
esac
