#!/usr/bin/env bash
# A real single-node SLURM cluster on localhost, and the workflow run through it with the slurm profile;
# the calls / phenotypes / guidance Parquet of that run are compared with a local (--cores 2) run.
#
# Run as root from the repo root (on demand; not part of CI: apt-get + daemons + ~6.5 min with UNTIL=all):
#     bash benchmarks/slurm_local.sh [WORKDIR]          # default WORKDIR: a new /tmp/pgx-slurm.XXXX
# Env: KEEP_CLUSTER=1 leaves munged/slurmctld/slurmd running; UNTIL=match_guidance (default) or UNTIL=all.
#
# What it does
#   1. apt-get install slurm-wlm munge (Debian 12: Slurm 22.05) if sbatch is missing;
#      pip install snakemake-executor-plugin-slurm into the active venv if missing (not a project dependency).
#   2. munged (as user munge, default key /etc/munge/munge.key), then a slurm.conf for this host written to
#      WORKDIR/slurm (SLURM_CONF points at it; /etc is not touched): one node with this host's CPUs and memory,
#      one partition, SlurmUser root, no accounting database (sacct answers from slurmctld), and no cgroups:
#      proctrack/linuxproc + task/none, so it also runs in containers/gVisor sandboxes without a cgroup tree.
#   3. snakemake --profile profiles/slurm (executor slurm) and snakemake --cores 2 on the bundled samples,
#      each with its own results folder, then compares calls/, phenotypes/, guidance/ with pandas (frame equality).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$(mktemp -d /tmp/pgx-slurm.XXXX)}"
UNTIL="${UNTIL:-match_guidance}"
mkdir -p "$WORK/slurm/state" "$WORK/slurm/spool" "$WORK/slurm/log"
say() { echo "[slurm_local $(date +%H:%M:%S)] $*" >&2; }

# ---- 1. packages
if ! command -v sbatch >/dev/null; then
    say "installing slurm-wlm munge"
    DEBIAN_FRONTEND=noninteractive apt-get install -y slurm-wlm munge >"$WORK/apt.log" 2>&1
fi
python -c "import snakemake_executor_plugin_slurm" 2>/dev/null || pip install -q snakemake-executor-plugin-slurm

# ---- 2. munge
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
[ -s /etc/munge/munge.key ] || { /usr/sbin/mungekey --create 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
if ! pgrep -u munge -x munged >/dev/null; then
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged
fi
munge -n | unmunge >/dev/null && say "munge ok"

# ---- 3. slurm.conf for this host
HOST="$(hostname -s)"
CPUS="$(nproc)"
MEM_MB="$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))"
export SLURM_CONF="$WORK/slurm/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=pgxlocal
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$WORK/slurm/state
SlurmdSpoolDir=$WORK/slurm/spool
SlurmctldPidFile=$WORK/slurm/slurmctld.pid
SlurmdPidFile=$WORK/slurm/slurmd.pid
SlurmctldLogFile=$WORK/slurm/log/slurmctld.log
SlurmdLogFile=$WORK/slurm/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=3600
SlurmdTimeout=300
MpiDefault=none
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

# Job steps (srun inside the batch job) look for /etc/slurm/slurm.conf, not SLURM_CONF: link it there while the
# cluster runs unless the machine already has one (then that one must describe this cluster).
linked_conf=0
if [ ! -e /etc/slurm/slurm.conf ]; then
    mkdir -p /etc/slurm && ln -s "$SLURM_CONF" /etc/slurm/slurm.conf && linked_conf=1
fi
started_ctld=0; started_d=0
cleanup() {
    if [ "${KEEP_CLUSTER:-0}" != 1 ]; then
        if [ $linked_conf = 1 ]; then rm -f /etc/slurm/slurm.conf; fi
        [ $started_d = 1 ] && [ -f "$WORK/slurm/slurmd.pid" ] && kill "$(cat "$WORK/slurm/slurmd.pid")" 2>/dev/null || true
        [ $started_ctld = 1 ] && [ -f "$WORK/slurm/slurmctld.pid" ] && kill "$(cat "$WORK/slurm/slurmctld.pid")" 2>/dev/null || true
    fi
}
trap cleanup EXIT
say "starting slurmctld and slurmd ($HOST, $CPUS CPUs, $MEM_MB MB)"
/usr/sbin/slurmctld -f "$SLURM_CONF" && started_ctld=1
sleep 2
/usr/sbin/slurmd -f "$SLURM_CONF" && started_d=1
for _ in $(seq 1 30); do
    state="$(sinfo -h -N -o %T 2>/dev/null || true)"
    [ "$state" = idle ] && break
    sleep 1
done
sinfo
[ "$state" = idle ] || { say "node not idle ($state); logs in $WORK/slurm/log"; tail -20 "$WORK/slurm/log/"*.log; exit 1; }
say "smoke job: $(srun -N1 -n1 hostname)"

# ---- 4. the workflow: local and through SLURM
cd "$REPO"
target=(); [ "$UNTIL" = all ] || target=(--until "$UNTIL")
for mode in local slurm; do
    printf 'results: %s\nreport_date: "2026-01-01"\n' "$WORK/results_$mode" >"$WORK/config_$mode.yaml"
done
say "local run"
t0=$(date +%s.%N)
snakemake --cores 2 --configfile "$WORK/config_local.yaml" --quiet "${target[@]}" >"$WORK/local.log" 2>&1
t1=$(date +%s.%N)
say "slurm run (--profile profiles/slurm)"
# No accounting database on this one-node cluster: job states come from squeue, and no account is needed.
snakemake --profile profiles/slurm --configfile "$WORK/config_slurm.yaml" --latency-wait 5 "${target[@]}" \
    --slurm-status-command squeue --slurm-no-account --slurm-init-seconds-before-status-checks 5 \
    >"$WORK/slurm.log" 2>&1 || { say "slurm run failed; see $WORK/slurm.log"; tail -40 "$WORK/slurm.log"; exit 1; }
t2=$(date +%s.%N)
say "jobs submitted through sbatch: $(grep -c 'SLURM jobid\|Submitted batch job' "$WORK/slurm.log" || true)"

python - "$WORK" <<'EOF'
import sys
from pathlib import Path
import pandas as pd
work = Path(sys.argv[1])
local, slurm = work / "results_local", work / "results_slurm"
bad = n = 0
for stage in ("calls", "phenotypes", "guidance", "predictions"):
    for f in sorted((local / stage).rglob("*.parquet")):
        rel = f.relative_to(local)
        n += 1
        try:
            pd.testing.assert_frame_equal(pd.read_parquet(f), pd.read_parquet(slurm / rel))
        except (AssertionError, FileNotFoundError) as exc:
            bad += 1
            print(f"DIFFERENT: {rel}: {str(exc)[:300]}")
for f in sorted((local / "reports").rglob("*.json")):
    rel = f.relative_to(local)
    n += 1
    if not (slurm / rel).is_file() or (slurm / rel).read_text() != f.read_text():
        bad += 1
        print(f"DIFFERENT: {rel}")
print(f"{n - bad} of {n} tables and report JSON files identical between the local and the SLURM run")
sys.exit(1 if bad else 0)
EOF
printf '| run | wall (s) |\n|---|---|\n| local --cores 2 | %.1f |\n| --profile profiles/slurm (executor slurm, 1 node) | %.1f |\n' \
    "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
