"""The body of the sbatch script that runs a sweep on Ray inside a Slurm allocation.

Kept apart from `cluster.slurm` (which renders the `#SBATCH` header and the quoted values) so the
shell can be read as shell. `@@NAME@@` placeholders are replaced by shell-quoted values only.

What the script does, and why:
- head = first host of `scontrol show hostnames`; its IP is asked from the node itself through srun
  (`hostname -I`), never resolved through DNS (node names need not resolve, and fake nodes share one).
- Every Ray node gets explicit --num-cpus/--num-gpus/--memory/--object-store-memory from the
  allocation (Ray ignores Slurm's CPU/cgroup limits and would claim the whole node), its own
  --temp-dir under /tmp (AF_UNIX paths must stay short) and its own port block derived from the
  job id and the node index (other jobs' Ray clusters, and in tests other fake nodes, share the IP).
- The driver starts only after `ray.nodes()` shows every node alive (polled, with a timeout).
- Signals: SIGTERM (scancel, preemption, `scontrol requeue`) is forwarded to the driver, which
  flushes stored runs and exits; Slurm then requeues or ends the job. The warning signal before the
  time limit (USR1 by default) does the same and then requeues the job itself, so the sweep goes on
  in a new allocation; the requeued run resumes (`sweeps launch` skips stored runs).
- On exit the Ray steps are stopped (their srun forwards the signal to each node).
"""

TEMPLATE = r"""
set -uo pipefail

GRID=@@GRID@@
OUT=@@OUT@@
NODES=@@NODES@@
WAIT_TIMEOUT=@@WAIT_TIMEOUT@@
OBJECT_STORE_MAX_MB=@@OBJECT_STORE_MAX_MB@@
PORT_LOW=@@PORT_LOW@@
PORT_SLOTS=@@PORT_SLOTS@@
PORT_SLOT_SIZE=@@PORT_SLOT_SIZE@@
DRIVER_ARGS=@@DRIVER_ARGS@@
export RAY_AUTH_MODE=@@RAY_AUTH_MODE@@
export RAY_USAGE_STATS_ENABLED=0
export PATH=@@BIN_DIR@@:"$PATH"

log() { printf 'trilemma: %s %s\n' "$(date -u +%FT%TZ)" "$*"; }

node_ip() {
    # This node's own first IPv4 address: no DNS lookup of the Slurm node name.
    local ip
    for ip in $(hostname -I); do
        case "$ip" in *:*) ;; *) printf '%s\n' "$ip"; return 0 ;; esac
    done
    return 1
}

node_ports() {
    # A port block per (job, node index): several Ray clusters (other jobs, other users, and in
    # tests several fake nodes) may share one IP. Sets GCS_PORT ... MAX_WORKER_PORT.
    local index=$1 slot base
    slot=$(( (SLURM_JOB_ID * 8 + index) % PORT_SLOTS ))
    base=$(( PORT_LOW + slot * PORT_SLOT_SIZE ))
    GCS_PORT=$base
    NODE_MANAGER_PORT=$(( base + 1 ))
    OBJECT_MANAGER_PORT=$(( base + 2 ))
    CLIENT_SERVER_PORT=$(( base + 3 ))
    DASHBOARD_PORT=$(( base + 4 ))
    AGENT_GRPC_PORT=$(( base + 5 ))
    AGENT_LISTEN_PORT=$(( base + 6 ))
    METRICS_PORT=$(( base + 7 ))
    RUNTIME_ENV_PORT=$(( base + 8 ))
    MIN_WORKER_PORT=$(( base + 10 ))
    MAX_WORKER_PORT=$(( base + PORT_SLOT_SIZE - 1 ))
}

start_ray_node() {
    # Runs on each node inside an srun step: `start_ray_node head` or `start_ray_node worker ADDR`.
    local role=$1 address=${2:-} index ip cpus gpus mem_mb store_mb
    if [ "$role" = head ]; then index=0; else index=$(( ${SLURM_PROCID:-0} + 1 )); fi
    ip=$(node_ip) || { log "node ${SLURMD_NODENAME:-?}: no IPv4 address from hostname -I"; return 1; }
    node_ports "$index"
    cpus=${SLURM_CPUS_PER_TASK:-${SLURM_CPUS_ON_NODE:-1}}
    gpus=${SLURM_GPUS_ON_NODE:-0}
    if [ -n "${SLURM_MEM_PER_NODE:-}" ]; then
        mem_mb=$SLURM_MEM_PER_NODE
    elif [ -n "${SLURM_MEM_PER_CPU:-}" ]; then
        mem_mb=$(( SLURM_MEM_PER_CPU * cpus ))
    else
        mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
    fi
    store_mb=$(( mem_mb * 3 / 10 ))
    if [ "$store_mb" -gt "$OBJECT_STORE_MAX_MB" ]; then store_mb=$OBJECT_STORE_MAX_MB; fi
    if [ "$store_mb" -lt 80 ]; then store_mb=80; fi
    ray_tmp=/tmp/ray-$SLURM_JOB_ID-$index
    rm -rf "$ray_tmp"
    local args=(--block --disable-usage-stats
        --node-ip-address="$ip" --temp-dir="$ray_tmp"
        --num-cpus="$cpus" --num-gpus="$gpus"
        --memory=$(( (mem_mb - store_mb) * 1048576 ))
        --object-store-memory=$(( store_mb * 1048576 ))
        --node-manager-port="$NODE_MANAGER_PORT" --object-manager-port="$OBJECT_MANAGER_PORT"
        --dashboard-agent-grpc-port="$AGENT_GRPC_PORT"
        --dashboard-agent-listen-port="$AGENT_LISTEN_PORT"
        --metrics-export-port="$METRICS_PORT" --runtime-env-agent-port="$RUNTIME_ENV_PORT"
        --min-worker-port="$MIN_WORKER_PORT" --max-worker-port="$MAX_WORKER_PORT")
    if [ "$role" = head ]; then
        args+=(--head --port="$GCS_PORT" --include-dashboard=false --dashboard-port="$DASHBOARD_PORT")
        # The Ray Client server (port 10001 by default) exists only with ray[client] / ray[default].
        if python3 -c 'import grpc' 2>/dev/null; then args+=(--ray-client-server-port="$CLIENT_SERVER_PORT"); fi
    else
        args+=(--address="$address")
    fi
    log "node ${SLURMD_NODENAME:-?} ($role $index): ray at $ip, cpus=$cpus gpus=$gpus mem_mb=$mem_mb" \
        "object_store_mb=$store_mb ports=$GCS_PORT-$MAX_WORKER_PORT temp_dir=$ray_tmp"
    # Own process group, so a signal reaches `ray start` and every Ray process it started.
    setsid ray start "${args[@]}" &
    ray_pid=$!
    trap 'stop_ray_node' EXIT
    trap 'exit 143' TERM INT
    wait "$ray_pid"
}

stop_ray_node() {
    # TERM the node's Ray process group; whatever is left after 10 s gets KILL. Then drop its files.
    local i
    kill -TERM -- "-$ray_pid" 2>/dev/null
    for i in $(seq 20); do kill -0 -- "-$ray_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$ray_pid" 2>/dev/null
    rm -rf "$ray_tmp"
}

driver_pid=
steps=()
requeue=0
stop_driver() { if [ -n "$driver_pid" ]; then kill -TERM "$driver_pid" 2>/dev/null; fi; }
on_warning() { log "time limit near: stopping the driver, then requeueing job $SLURM_JOB_ID"; requeue=1; stop_driver; }
on_term() { log "SIGTERM (scancel, preemption or requeue): stopping the driver"; stop_driver; }
stop_ray() {
    # SIGTERM to the job's steps only (not this script): each node stops Ray and removes its
    # temp dir. (Signalling srun itself makes it SIGKILL its tasks.)
    local pid
    if [ "${#steps[@]}" -gt 0 ]; then
        scancel --signal=TERM "$SLURM_JOB_ID" 2>/dev/null
        for pid in "${steps[@]}"; do wait "$pid" 2>/dev/null; done
    fi
}
trap on_warning @@WARNING_SIGNAL@@
trap on_term TERM
trap stop_ray EXIT

log "job $SLURM_JOB_ID restart ${SLURM_RESTART_COUNT:-0} on $SLURM_JOB_NODELIST"
mapfile -t hosts < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
head_host=${hosts[0]}
head_ip=$(srun --nodes=1 --ntasks=1 --nodelist="$head_host" bash -c "$(declare -f node_ip); node_ip")
if [ -z "$head_ip" ]; then log "could not learn the IP address of $head_host"; exit 1; fi
node_ports 0
export RAY_ADDRESS=$head_ip:$GCS_PORT
functions=$(declare -f log node_ip node_ports start_ray_node stop_ray_node)
export SLURM_JOB_ID PORT_LOW PORT_SLOTS PORT_SLOT_SIZE OBJECT_STORE_MAX_MB
srun --nodes=1 --ntasks=1 --nodelist="$head_host" --kill-on-bad-exit=0 \
    bash -c "$functions; start_ray_node head" &
steps+=($!)
if [ "$NODES" -gt 1 ]; then
    srun --nodes=$(( NODES - 1 )) --ntasks=$(( NODES - 1 )) --ntasks-per-node=1 \
        --exclude="$head_host" --kill-on-bad-exit=0 \
        bash -c "$functions; start_ray_node worker $RAY_ADDRESS" &
    steps+=($!)
fi

python3 -m cluster.ray_wait "$RAY_ADDRESS" "$NODES" --timeout "$WAIT_TIMEOUT" --watch-pid "${steps[0]}" &
driver_pid=$!
status=0
while :; do
    wait "$driver_pid"; status=$?
    kill -0 "$driver_pid" 2>/dev/null || break
done
driver_pid=
if [ "$status" -ne 0 ]; then log "Ray did not come up (status $status)"; exit "$status"; fi

log "driver: sweeps launch against $RAY_ADDRESS"
sweeps launch "$GRID" --address "$RAY_ADDRESS" --out "$OUT" ${DRIVER_ARGS[@]+"${DRIVER_ARGS[@]}"} &
driver_pid=$!
while :; do
    wait "$driver_pid"; status=$?
    kill -0 "$driver_pid" 2>/dev/null || break
done
driver_pid=
log "driver exited with status $status"
if [ "$requeue" -eq 1 ]; then
    stop_ray
    steps=()
    log "requeueing job $SLURM_JOB_ID to resume the sweep"
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$status"
"""
