#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the tests that run studies through SLURM (tests/test_slurm.py).
#
#   tools/slurm_cluster.sh start    install slurm-wlm and munge if missing, write /etc/slurm/slurm.conf, start
#                                   munged, slurmctld and slurmd, and wait until the node takes jobs
#   tools/slurm_cluster.sh stop     stop the three daemons (the configuration stays)
#   tools/slurm_cluster.sh status   what sinfo says
#
# As root (SlurmUser=root). The settings are the few a single machine needs: processes tracked through /proc
# (no cgroups), no task binding, consumable cores and memory, no accounting database (sacct then fails, and
# submitit falls back to what it can read otherwise), and one node declared with this machine's CPUs and memory
# as slurmd measures them. Logs and state live in /var/log/slurm and /var/spool/slurm*.
set -euo pipefail

die() { echo "slurm_cluster: $*" >&2; exit 1; }

install_packages() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null && return
    command -v apt-get >/dev/null || die "slurm-wlm and munge are not installed, and there is no apt-get to install them"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; } \
        || die "could not install slurm-wlm and munge with apt-get"
}

start_munge() {
    if [ ! -s /etc/munge/munge.key ]; then mungekey -c -f -k /etc/munge/munge.key; fi
    chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        runuser -u munge -- /usr/sbin/munged --force
        for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return; sleep 0.1; done
        die "munged did not start (see /var/log/munge/munged.log)"
    fi
}

write_config() {
    local host node cpus mem
    host=$(hostname -s)
    node=$(slurmd -C | head -1)  # NodeName=<host> CPUs=... RealMemory=... as slurmd sees this machine
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
    mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    mkdir -p /etc/slurm /var/log/slurm /var/spool/slurmctld /var/spool/slurmd
    cat > /etc/slurm/slurm.conf <<EOF
ClusterName=foundry
SlurmctldHost=${host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# a job that asks for no memory gets its cores' share, not the whole node's (which would run one job at a time)
DefMemPerCPU=$((mem / cpus))
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=30
# a requeued job waits this long (plus a second) before it starts again; the default is two minutes
AuthInfo=cred_expire=10
MinJobAge=600
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
${node}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
    [ "$(id -u)" = 0 ] || die "run as root: the cluster's daemons run as root (SlurmUser=root)"
    install_packages
    start_munge
    write_config
    pgrep -x slurmctld >/dev/null || slurmctld || die "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
    pgrep -x slurmd >/dev/null || slurmd || die "slurmd did not start (see /var/log/slurm/slurmd.log)"
    for _ in $(seq 60); do
        state=$(sinfo -h -o %t 2>/dev/null | head -1 || true)
        case "$state" in idle|mix|alloc) echo "slurm_cluster: node $(hostname -s) is $state"; return;; esac
        case "$state" in drain*|down*) scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null || true;; esac
        sleep 1
    done
    die "the node did not come up (sinfo says '${state:-nothing}'; see /var/log/slurm/)"
}

stop() {
    for d in slurmd slurmctld; do pkill -x "$d" 2>/dev/null || true; done
    for _ in $(seq 50); do pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || break; sleep 0.2; done
    pkill -x munged 2>/dev/null || true
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) sinfo ;;
    *) die "usage: tools/slurm_cluster.sh start|stop|status" ;;
esac
