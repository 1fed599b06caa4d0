"""A fidelity case: one TOML source rendered both for the real Slurm and for the simulator.

Why one source: the comparison is only meaningful if Slurm and simcore see the same cluster, the
same policies and the same jobs. A case file holds a `[scenario]` table in the agreed scenario
schema (docs/scenario.md, without `[workload]`) and a small job table; `slurm_conf_lines` and
`sacctmgr_commands` render it for Slurm, `scenario_dict` and `job_columns` for simcore.

The harness (cluster/localslurm.py) defines identical nodes n1..nN, so a case has exactly one
`[[scenario.cluster.nodes]]` table with NodeName = "n[1-N]". Jobs (docs/fidelity.md):

    # id  user   account  qos     partition  submit_s  limit_min  sleep_s  nodes  cpus  gpus
    j01   alice  physics  normal  batch      0         2          90       2      64    0

`cpus` and `gpus` are job totals, spread evenly over the nodes (sbatch asks per node).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simcore.errors import ConfigError

CASES_DIR = Path(__file__).resolve().parents[2] / "tests" / "fidelity" / "cases"
JOB_FIELDS = ("id", "user", "account", "qos", "partition", "submit_s", "limit_min", "sleep_s",
              "nodes", "cpus", "gpus")
MEM_PER_NODE_MB = 1000   # every job asks --mem explicitly: without it CR_Core_Memory gives it the whole node
HARNESS_PARTITION = "debug"  # the harness always adds PartitionName=debug (unused by the cases)
COMPARE_MODES = ("exact", "spread")
_NODES_RE = re.compile(r"^n\[1-(\d+)\]$")
# scenario [scheduler] / [priority] keys written to slurm.conf as they are.
SLURM_CONF_SECTIONS = ("scheduler", "priority")


@dataclass(frozen=True)
class CaseJob:
    """One sleep job of a case; `submit_s` is the offset from the first submission."""

    id: str
    user: str
    account: str
    qos: str
    partition: str
    submit_s: int
    limit_min: int
    sleep_s: int
    nodes: int
    cpus: int
    gpus: int

    @property
    def cpus_per_node(self) -> int:
        return self.cpus // self.nodes

    @property
    def gpus_per_node(self) -> int:
        return self.gpus // self.nodes

    def sbatch_args(self) -> list[str]:
        """sbatch options reproducing this job (the caller adds --uid/--gid and the script)."""
        args = [f"--job-name={self.id}", f"--account={self.account}", f"--qos={self.qos}",
                f"--partition={self.partition}", f"--time={self.limit_min}", f"--nodes={self.nodes}",
                "--ntasks-per-node=1", f"--cpus-per-task={self.cpus_per_node}", f"--mem={MEM_PER_NODE_MB}",
                "--output=/dev/null", "--requeue"]
        if self.gpus:
            args.append(f"--gres=gpu:{self.gpus_per_node}")
        return args


@dataclass(frozen=True)
class Case:
    """A parsed case file."""

    name: str
    description: str
    compare: str            # "exact": job by job within 2 s; "spread": within Slurm's own run-to-run spread
    runs: int               # recordings to keep (>= 3 for "spread")
    scenario: dict[str, Any]
    jobs: tuple[CaseJob, ...]
    nodes: int
    cpus: int
    real_memory_mb: int
    gpus: int
    sha256: str
    source: str

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(sorted({j.user for j in self.jobs} | set(self.scenario.get("users", {}))))

    # ------------------------------------------------------------ rendering for Slurm

    def slurm_conf_lines(self) -> tuple[str, ...]:
        """Extra slurm.conf lines for the harness: scheduler and priority keys, then partitions."""
        lines = []
        for section in SLURM_CONF_SECTIONS:
            for key, value in self.scenario.get(section, {}).items():
                lines.append(f"{key}={_conf_value(value)}")
        for name, table in self.scenario["partitions"].items():
            words = [f"PartitionName={name}"]
            for key, value in table.items():
                if key == "Default":
                    continue  # the harness's debug partition is the default; jobs name their partition
                words.append(f"{key}={_conf_value(value)}")
            lines.append(" ".join(words))
        return tuple(lines)

    def sacctmgr_commands(self) -> list[list[str]]:
        """sacctmgr argument lists (without `sacctmgr -i`): QOS, then accounts (parents first), then users."""
        cmds: list[list[str]] = []
        qos_names = sorted(self.scenario.get("qos", {}))
        for name in qos_names:
            table = self.scenario["qos"][name]
            if name != "normal":
                cmds.append(["add", "qos", name])
            if table:
                cmds.append(["modify", "qos", "where", f"name={name}", "set",
                             *(f"{k}={_conf_value(v)}" for k, v in table.items())])
        accounts = self.scenario.get("accounts", {})
        for name in _parents_first(accounts):
            table = dict(accounts[name])
            parent = table.pop("Parent", "root")
            cmds.append(["add", "account", name, f"Parent={parent}",
                         *(f"{k}={_conf_value(v)}" for k, v in table.items())])
        users = self.scenario.get("users", {})
        all_qos = ",".join(sorted(set(qos_names) | {"normal"}))
        for name in sorted(users):
            table = dict(users[name])
            account = table.pop("Account")
            table.setdefault("QOS", all_qos)
            table.setdefault("DefaultQOS", "normal")
            cmds.append(["add", "user", name, f"Account={account}", f"DefaultAccount={account}",
                         *(f"{k}={_conf_value(v)}" for k, v in table.items())])
        return cmds

    # ------------------------------------------------------------ rendering for simcore

    def scenario_dict(self) -> dict[str, Any]:
        """The scenario for `simcore.Scenario.from_dict` (the job table is passed separately)."""
        d = {k: v for k, v in self.scenario.items()}
        d["name"] = self.name
        d["workload"] = {"kind": "file", "path": f"<{self.name} golden>"}
        return d


def _conf_value(value: Any) -> str:
    if isinstance(value, bool):
        return "YES" if value else "NO"
    return str(value)


def _parents_first(accounts: dict[str, dict[str, Any]]) -> list[str]:
    done: list[str] = []
    pending = sorted(accounts)
    while pending:
        progressed = False
        for name in list(pending):
            parent = accounts[name].get("Parent", "root")
            if parent == "root" or parent in done:
                done.append(name)
                pending.remove(name)
                progressed = True
        if not progressed:
            raise ConfigError(f"accounts {pending}: Parent is neither root nor another [accounts] table")
    return done


def case_path(name: str) -> Path:
    path = CASES_DIR / f"{name}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CASES_DIR.glob("*.toml")))
        raise ConfigError(f"{path}: no such fidelity case; known: {known}")
    return path


def case_names() -> list[str]:
    return sorted(p.stem for p in CASES_DIR.glob("*.toml"))


def load_case(name_or_path: str | Path) -> Case:
    """Parse and validate a case file (errors name the file and the key or job line)."""
    path = Path(name_or_path) if str(name_or_path).endswith(".toml") else case_path(str(name_or_path))
    raw = path.read_bytes()
    src = str(path)
    try:
        data = tomllib.loads(raw.decode())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{src}: invalid TOML ({exc})") from None
    meta = data.get("case", {})
    scenario = data.get("scenario")
    if not isinstance(scenario, dict):
        raise ConfigError(f"{src}: a [scenario] table is required")
    if "workload" in scenario:
        raise ConfigError(f"{src}: scenario.workload: the jobs come from the case's `jobs` table, not [workload]")
    compare = str(meta.get("compare", "exact"))
    if compare not in COMPARE_MODES:
        raise ConfigError(f"{src}: case.compare {compare!r}; allowed: {', '.join(COMPARE_MODES)}")
    runs = int(meta.get("runs", 1))
    if compare == "spread" and runs < 3:
        raise ConfigError(f"{src}: case.runs is {runs}; a 'spread' case needs at least 3 recordings")
    nodes_tables = scenario.get("cluster", {}).get("nodes", [])
    if len(nodes_tables) != 1:
        raise ConfigError(f"{src}: scenario.cluster.nodes must be exactly one table (the harness has identical nodes)")
    nt = nodes_tables[0]
    m = _NODES_RE.match(str(nt.get("NodeName", "")))
    if not m:
        raise ConfigError(f"{src}: scenario.cluster.nodes[0].NodeName is {nt.get('NodeName')!r}; "
                          "the harness names its nodes n[1-N]")
    gres = str(nt.get("Gres", ""))
    gm = re.match(r"^gpu:(\d+)$", gres)
    if gres and not gm:
        raise ConfigError(f"{src}: scenario.cluster.nodes[0].Gres is {gres!r}; the harness has untyped gpu:N")
    if HARNESS_PARTITION in scenario.get("partitions", {}):
        raise ConfigError(f"{src}: scenario.partitions.{HARNESS_PARTITION}: the harness already defines it; "
                          "use another name")
    jobs = _parse_jobs(data.get("jobs", ""), src, scenario)
    return Case(
        name=path.stem, description=str(meta.get("description", "")), compare=compare, runs=runs,
        scenario=scenario, jobs=jobs, nodes=int(m.group(1)), cpus=int(nt.get("CPUs", 1)),
        real_memory_mb=int(nt.get("RealMemory", 1)), gpus=int(gm.group(1)) if gm else 0,
        sha256=hashlib.sha256(raw).hexdigest(), source=src,
    )


def _parse_jobs(text: Any, src: str, scenario: dict[str, Any]) -> tuple[CaseJob, ...]:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{src}: `jobs` must be a multi-line string with one job per line ({' '.join(JOB_FIELDS)})")
    parts = set(scenario.get("partitions", {}))
    jobs: list[CaseJob] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        where = f"{src}: jobs line {lineno}"
        if len(words) != len(JOB_FIELDS):
            raise ConfigError(f"{where}: {len(words)} fields; expected {len(JOB_FIELDS)}: {' '.join(JOB_FIELDS)}")
        try:
            nums = [int(w) for w in words[5:]]
        except ValueError:
            raise ConfigError(f"{where}: {' '.join(JOB_FIELDS[5:])} must be integers") from None
        job = CaseJob(*words[:5], *nums)
        missing = [p for p in job.partition.split(",") if p not in parts]
        if missing:
            raise ConfigError(f"{where}: partition {missing[0]!r} is not a [scenario.partitions] table")
        if job.nodes < 1 or job.cpus % job.nodes or job.gpus % job.nodes or job.limit_min < 1:
            raise ConfigError(f"{where}: need nodes >= 1, limit_min >= 1 and cpus, gpus divisible by nodes")
        jobs.append(job)
    ids = [j.id for j in jobs]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{src}: jobs: duplicate id")
    if sorted(jobs, key=lambda j: j.submit_s) != jobs:
        raise ConfigError(f"{src}: jobs must be listed in submit order (Slurm numbers them in that order)")
    return tuple(jobs)
