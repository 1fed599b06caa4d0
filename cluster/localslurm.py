"""A real single-host Slurm cluster with fake nodes and fake GPUs, for tests and fidelity checks.

Why: the "launch on Slurm" path and the simulator's fidelity are only believable when checked
against the real scheduler (Debian's Slurm 22.05). This module writes the configuration, starts
munged, (optionally) a private MariaDB + slurmdbd, slurmctld and one `slurmd -N nX` per fake node,
waits until every node is idle, and stops everything again by the PID files the daemons wrote
(never by process name: other people's daemons may share the machine).

Facts it relies on are in shared/SLURM_LOCAL.md: several slurmds on one host with NodeAddr=127.0.0.1
and distinct ports, `SlurmdParameters=config_overrides` for more resources than the host has,
GPUs as gres files that are symlinks to /dev/null, proctrack/linuxproc and task/none (no cgroups).

    python -m cluster.localslurm up [--nodes 2] [--accounting] [--users alice,bob]
    python -m cluster.localslurm status
    python -m cluster.localslurm down

The configuration lives in /etc/slurm (clients without one try configless mode and fail); the
state, logs, PID files and the MariaDB datadir live under `STATE_DIR`.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

STATE_DIR = Path(os.environ.get("TRILEMMA_SLURM_DIR", "/var/tmp/trilemma-slurm"))
CONF_DIR = Path("/etc/slurm")
CLUSTER_NAME = "trilemma"
ACCOUNT = "trilemma"
MYSQL_PORT = 3307
SLURMD_BASE_PORT = 17000
DB_PASSWORD = "trilemma-local"  # private MariaDB bound to 127.0.0.1, test use only
# Whoever submits to or restarts the shared local cluster holds this flock (tests, fidelity recording).
LOCK_FILE = Path("/tmp/trilemma-slurm.lock")


@dataclasses.dataclass(frozen=True)
class LocalSlurmSpec:
    """What the local cluster looks like; `up` restarts it when the running one differs."""

    nodes: int = 2
    cpus: int = 32
    real_memory_mb: int = 128000
    gpus: int = 4
    accounting: bool = False
    users: tuple[str, ...] = ()
    extra_conf: tuple[str, ...] = ()  # extra slurm.conf lines (fidelity tests: priority, QOS...)

    @property
    def node_names(self) -> list[str]:
        return [f"n{i}" for i in range(1, self.nodes + 1)]


def _paths() -> dict[str, Path]:
    return {
        "run": STATE_DIR / "run",
        "log": STATE_DIR / "log",
        "ctld": STATE_DIR / "ctld",
        "spool": STATE_DIR / "spool",
        "dev": STATE_DIR / "dev",
        "mysql": STATE_DIR / "mysql",
        "spec": STATE_DIR / "spec.json",
    }


def render_slurm_conf(spec: LocalSlurmSpec, host: str) -> str:
    """slurm.conf for `spec`: one partition `debug` over every fake node, fast backfill."""
    p = _paths()
    last_port = SLURMD_BASE_PORT + spec.nodes
    lines = [
        f"ClusterName={CLUSTER_NAME}",
        f"SlurmctldHost={host}(127.0.0.1)",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        f"StateSaveLocation={p['ctld']}",
        f"SlurmdSpoolDir={p['spool']}/%n",
        f"SlurmctldPidFile={p['run']}/slurmctld.pid",
        f"SlurmdPidFile={p['run']}/slurmd-%n.pid",
        f"SlurmctldLogFile={p['log']}/slurmctld.log",
        f"SlurmdLogFile={p['log']}/slurmd-%n.log",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SlurmdParameters=config_overrides",
        "MailProg=/bin/true",
        "ReturnToService=2",
        "SchedulerType=sched/backfill",
        "SchedulerParameters=bf_interval=1,bf_resolution=1,sched_interval=5",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "GresTypes=gpu",
        "JobAcctGatherType=jobacct_gather/none",
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={p['log']}/jobcomp.txt",
        "SlurmctldTimeout=30",
        "SlurmdTimeout=60",
        "InactiveLimit=0",
        "KillWait=30",
        "MinJobAge=300",
    ]
    if spec.accounting:
        lines += [
            "AccountingStorageType=accounting_storage/slurmdbd",
            "AccountingStorageHost=127.0.0.1",
            "AccountingStoragePort=6819",
            "AccountingStorageEnforce=associations,limits,qos",
            "AccountingStorageTRES=gres/gpu",
        ]
    else:
        lines += ["AccountingStorageType=accounting_storage/none", "AccountingStorageTRES=gres/gpu"]
    lines += list(spec.extra_conf)
    nodes = f"n[1-{spec.nodes}]" if spec.nodes > 1 else "n1"
    ports = f"[{SLURMD_BASE_PORT + 1}-{last_port}]" if spec.nodes > 1 else str(last_port)
    lines += [
        f"NodeName={nodes} NodeHostname={host} NodeAddr=127.0.0.1 Port={ports} "
        f"CPUs={spec.cpus} RealMemory={spec.real_memory_mb} Gres=gpu:{spec.gpus} State=UNKNOWN",
        f"PartitionName=debug Nodes={nodes} Default=YES MaxTime=INFINITE State=UP",
    ]
    return "\n".join(lines) + "\n"


def render_gres_conf(spec: LocalSlurmSpec) -> str:
    """gres.conf: without File= slurmd drops the GPUs and the node drains (SLURM_LOCAL.md)."""
    dev = _paths()["dev"]
    last = spec.gpus - 1
    files = f"{dev}/gpu[0-{last}]" if spec.gpus > 1 else f"{dev}/gpu0"
    return "".join(f"NodeName={n} Name=gpu File={files}\n" for n in spec.node_names)


def render_slurmdbd_conf() -> str:
    p = _paths()
    return "\n".join(
        [
            "AuthType=auth/munge",
            "DbdHost=localhost",
            "DbdAddr=127.0.0.1",
            "DbdPort=6819",
            "SlurmUser=root",
            f"PidFile={p['run']}/slurmdbd.pid",
            f"LogFile={p['log']}/slurmdbd.log",
            "StorageType=accounting_storage/mysql",
            "StorageHost=127.0.0.1",
            f"StoragePort={MYSQL_PORT}",
            "StorageUser=slurm",
            f"StoragePass={DB_PASSWORD}",
            "StorageLoc=slurm_acct_db",
        ]
    ) + "\n"


# ---------------------------------------------------------------- processes by PID file


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _daemon_alive(pid_file: Path) -> bool:
    """The PID file's process is alive and is the daemon the file is named after."""
    pid = _read_pid(pid_file)
    daemon = pid_file.stem.split("-")[0]
    return _alive(pid) and _comm(pid) == {"mariadb": "mariadbd"}.get(daemon, daemon)


def _stop_pid_file(pid_file: Path, timeout: float = 30.0) -> None:
    """SIGTERM the process named by `pid_file`, wait for it to exit, SIGKILL as a last resort.

    A stale PID file (machine restarted, PID reused) must not kill an unrelated process: the
    process's name has to match the daemon the file belongs to (slurmd-n1.pid -> slurmd).
    """
    pid = _read_pid(pid_file)
    if pid is not None and _daemon_alive(pid_file):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def _wait_for(predicate, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise RuntimeError(f"local Slurm: timed out after {timeout:.0f} s waiting for {what}; logs in {STATE_DIR}/log")


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


# ---------------------------------------------------------------- daemons


def _munge_ok() -> bool:
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=5, check=True).stdout
        subprocess.run(["unmunge"], input=cred, capture_output=True, timeout=5, check=True)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


def _start_munge() -> None:
    """Use a running munged if one answers; else start our own (its PID file is ours to stop)."""
    if _munge_ok():
        return
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(run_dir, "munge", "munge")
    for d in (Path("/var/log/munge"), Path("/var/lib/munge")):
        d.mkdir(parents=True, exist_ok=True)
        shutil.chown(d, "munge", "munge")
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        _run(["mungekey", "--create", f"--keyfile={key}"])
        shutil.chown(key, "munge", "munge")
        key.chmod(0o600)
    pid_file = _paths()["run"] / "munged.pid"
    _run(["runuser", "-u", "munge", "--", "munged", "--force", f"--pid-file={run_dir}/munged.pid"])
    _wait_for(_munge_ok, "munged", 15)
    shutil.copyfile(run_dir / "munged.pid", pid_file)


def _mysql_cmd(sql: str) -> None:
    sock = _paths()["mysql"] / "mysqld.sock"
    _run(["mariadb", f"--socket={sock}", "-uroot", "-e", sql])


def _start_mariadb() -> None:
    """A private MariaDB on 127.0.0.1:3307 with its own datadir (never the system one)."""
    p = _paths()
    datadir = p["mysql"] / "data"
    if not (datadir / "mysql").exists():
        datadir.mkdir(parents=True, exist_ok=True)
        shutil.chown(p["mysql"], "mysql", "mysql")
        shutil.chown(datadir, "mysql", "mysql")
        _run(["mariadb-install-db", "--user=mysql", f"--datadir={datadir}", "--auth-root-authentication-method=socket",
              "--skip-test-db"])
    log = (p["log"] / "mariadb.log").open("ab")
    proc = subprocess.Popen(
        ["mariadbd", "--no-defaults", "--user=mysql", f"--datadir={datadir}", f"--port={MYSQL_PORT}",
         "--bind-address=127.0.0.1", "--skip-name-resolve", f"--socket={p['mysql']}/mysqld.sock",
         f"--pid-file={p['mysql']}/mariadb.pid", "--innodb-buffer-pool-size=64M",
         "--innodb-lock-wait-timeout=900"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"local Slurm: MariaDB exited with {proc.returncode}; see {p['log']}/mariadb.log")
        return (p["mysql"] / "mysqld.sock").exists() and _mysql_ok()

    _wait_for(ready, "MariaDB", 60)
    for host in ("127.0.0.1", "localhost"):
        _mysql_cmd(f"CREATE USER IF NOT EXISTS 'slurm'@'{host}' IDENTIFIED BY '{DB_PASSWORD}'; "
                   f"GRANT ALL ON slurm_acct_db.* TO 'slurm'@'{host}';")


def _mysql_ok() -> bool:
    try:
        _mysql_cmd("SELECT 1")
        return True
    except subprocess.CalledProcessError:
        return False


def _sacctmgr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sacctmgr", "-i", *args], capture_output=True, text=True)


def _start_slurmdbd() -> None:
    p = _paths()
    subprocess.run(["slurmdbd"], check=True)
    _wait_for(lambda: _daemon_alive(p["run"] / "slurmdbd.pid"), "slurmdbd", 30)
    _wait_for(lambda: _sacctmgr("show", "cluster").returncode == 0, "slurmdbd to answer", 60)
    _sacctmgr("add", "cluster", CLUSTER_NAME)


def _add_associations(spec: LocalSlurmSpec) -> None:
    _sacctmgr("add", "account", ACCOUNT, "Description=trilemma tests", "Organization=trilemma")
    for user in ("root", *spec.users):
        _sacctmgr("add", "user", user, f"Account={ACCOUNT}", f"DefaultAccount={ACCOUNT}")


def _ensure_users(users: tuple[str, ...]) -> None:
    for user in users:
        if subprocess.run(["id", user], capture_output=True).returncode != 0:
            _run(["useradd", "--create-home", "--user-group", user])


def _node_states() -> dict[str, str]:
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True, text=True)
    if out.returncode != 0:
        return {}
    return dict(line.split() for line in out.stdout.splitlines() if line.strip())


def _nodes_idle(spec: LocalSlurmSpec) -> bool:
    states = _node_states()
    for name in spec.node_names:
        state = states.get(name, "")
        if state.rstrip("*~#").startswith(("drain", "drng", "down", "inval")):
            subprocess.run(["scontrol", "update", f"nodename={name}", "state=resume"], capture_output=True)
    return all(states.get(n, "").rstrip("*~#") in ("idle", "mix", "alloc") for n in spec.node_names)


# ---------------------------------------------------------------- public entry points


@contextmanager
def exclusive(wait_s: float = 1800.0) -> Iterator[None]:
    """Hold LOCK_FILE exclusively: one user of the local cluster at a time (it may be restarted)."""
    LOCK_FILE.touch(exist_ok=True)
    with LOCK_FILE.open("r+") as fh:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{LOCK_FILE}: still locked by another user of the local Slurm "
                                       f"after {wait_s:.0f} s") from None
                time.sleep(2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _daemon_pid_files(spec: LocalSlurmSpec) -> list[Path]:
    run = _paths()["run"]
    files = [run / "slurmctld.pid", *(run / f"slurmd-{n}.pid" for n in spec.node_names)]
    if spec.accounting:
        files += [run / "slurmdbd.pid", _paths()["mysql"] / "mariadb.pid"]
    return files


def running_spec() -> LocalSlurmSpec | None:
    """The spec of the cluster started by `up`, if all its daemons are still alive."""
    try:
        data = json.loads(_paths()["spec"].read_text())
    except (OSError, ValueError):
        return None
    spec = LocalSlurmSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    if all(_daemon_alive(f) for f in _daemon_pid_files(spec)) and _munge_ok():
        return spec
    return None


def up(spec: LocalSlurmSpec, timeout: float = 120.0) -> None:
    """Start the cluster (fresh state) unless the same spec is already running; wait for idle nodes."""
    if running_spec() == spec and _wait_ok(spec):
        return
    down()
    p = _paths()
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    for key in ("run", "log", "ctld", "spool", "dev"):
        p[key].mkdir(parents=True, exist_ok=True)
    for i in range(spec.gpus):
        (p["dev"] / f"gpu{i}").symlink_to("/dev/null")
    host = socket.gethostname().split(".")[0]
    CONF_DIR.mkdir(parents=True, exist_ok=True)
    (CONF_DIR / "slurm.conf").write_text(render_slurm_conf(spec, host))
    (CONF_DIR / "gres.conf").write_text(render_gres_conf(spec))
    _ensure_users(spec.users)
    _start_munge()
    if spec.accounting:
        dbd = CONF_DIR / "slurmdbd.conf"
        dbd.write_text(render_slurmdbd_conf())
        dbd.chmod(0o600)
        _start_mariadb()
        _start_slurmdbd()
    subprocess.run(["slurmctld", "-c"], check=True)
    _wait_for(lambda: subprocess.run(["scontrol", "ping"], capture_output=True).returncode == 0, "slurmctld", 30)
    if spec.accounting:
        _add_associations(spec)
    for name in spec.node_names:
        subprocess.run(["slurmd", "-c", "-N", name], check=True)
    _wait_for(lambda: _nodes_idle(spec), "every node idle (sinfo)", timeout)
    p["spec"].write_text(json.dumps(dataclasses.asdict(spec)))


def _wait_ok(spec: LocalSlurmSpec) -> bool:
    try:
        _wait_for(lambda: _nodes_idle(spec), "every node idle", 20)
        return True
    except RuntimeError:
        return False


def down() -> None:
    """Stop every daemon `up` started, by its PID file (slurmds first, MariaDB last)."""
    run = _paths()["run"]
    ordered = [*sorted(run.glob("slurmd-*.pid")), run / "slurmctld.pid", run / "slurmdbd.pid",
               _paths()["mysql"] / "mariadb.pid", run / "munged.pid"]
    for pid_file in ordered:
        _stop_pid_file(pid_file)
    _paths()["spec"].unlink(missing_ok=True)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster.localslurm", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start (or keep) the local cluster and wait until every node is idle")
    start.add_argument("--nodes", type=int, default=2)
    start.add_argument("--cpus", type=int, default=32)
    start.add_argument("--gpus", type=int, default=4)
    start.add_argument("--accounting", action="store_true", help="slurmdbd + private MariaDB on port 3307")
    start.add_argument("--users", default="", help="comma-separated Linux users to create (and associate)")
    sub.add_parser("down", help="stop the daemons by their PID files")
    sub.add_parser("status", help="print the running spec and sinfo")
    args = parser.parse_args(argv)
    if args.command == "up":
        users = tuple(u for u in args.users.split(",") if u)
        spec = LocalSlurmSpec(nodes=args.nodes, cpus=args.cpus, gpus=args.gpus, accounting=args.accounting,
                              users=users)
        t0 = time.monotonic()
        up(spec)
        print(f"local Slurm up: {spec.nodes} nodes x {spec.cpus} CPUs, gpu:{spec.gpus}, "
              f"accounting={'on' if spec.accounting else 'off'} ({time.monotonic() - t0:.1f} s)")
    elif args.command == "down":
        down()
        print("local Slurm down")
    else:
        spec = running_spec()
        print(json.dumps(dataclasses.asdict(spec)) if spec else "not running")
        if spec:
            print(subprocess.run(["sinfo"], capture_output=True, text=True).stdout, end="")
        return 0 if spec else 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
