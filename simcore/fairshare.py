"""Fairshare: the association tree, decayed billable usage, and Fair Tree / classic factors.

Why a module of its own: fairshare is the one priority factor with state that evolves with every
job start and end, and it is computed on a tree. Everything here is vectorised over associations so
that a recalculation every PriorityCalcPeriod costs microseconds, not a Python walk of the tree.

Semantics follow Slurm 22.05 (src/plugins/priority/multifactor/{priority_multifactor,fair_tree}.c):

- The tree: `root`, accounts (`[accounts.<name>] Parent, Fairshare`), users
  (`[users.<name>] Account, Fairshare`). A user association is the pair (user, account).
  `Fairshare = "parent"` on a user uses its account's values (Slurm's SLURMDB_FS_USE_PARENT).
- Users and accounts seen in the workload but not listed are attached with Fairshare=1 (sacctmgr's
  default): an unknown account directly under root; an unknown (user, account) pair under that
  account; a job with an empty account uses the user's first listed account, else `default`.
- Usage: billable TRES-seconds x QOS UsageFactor, decayed continuously with a per-second factor
  2^(-1/PriorityDecayHalfLife) and integrated exactly over each interval in which a user's running
  set is constant (Slurm integrates per PriorityCalcPeriod with 1 - 0.693/half_life; the difference is
  below 1e-4 of the usage). Half-life 0 disables decay. Account usage = sum of its children.
- PriorityUsageResetPeriod (NONE, NOW, DAILY, WEEKLY, MONTHLY, QUARTERLY, YEARLY): usage accrued
  before the boundary is discarded at the first recalculation at or after it, like Slurm's decay
  thread (usage of the interval straddling the boundary survives). Simulation time 0 is taken as
  Monday 2024-01-01 00:00 UTC for calendar boundaries.
- Fair Tree: LF = S/U among siblings (S = shares/siblings' shares, U = usage/parent usage;
  S = 0 gives 0, U = 0 gives infinity), siblings sorted by LF (users before accounts on equal LF),
  depth first; tied accounts have their children merged; tied users share a rank; a user tied with a
  sibling account gets that account's best rank. factor = rank / number of user associations.
  Implemented as one lexicographic sort of each user's path of LF values (equivalent to Slurm's
  recursive walk, since merging tied accounts is exactly comparing LF paths). Accounts without users
  never break a tie chain here (in Slurm an empty account visited first could): immaterial.
- Classic (PriorityFlags=NO_FAIR_TREE): S = product of shares/siblings' shares down the path;
  U = usage/root usage; U_eff = U for children of root, else U + (U_eff,parent - U) * s/s_siblings;
  F = 2^(-(U_eff/S)/FairShareDampeningFactor); S = 0 gives 0.

Exponentials are libm's, one element at a time (math.exp2, math.expm1): the compiled engine calls
the same C functions, so both engines compute bit-identical usage and factors (numpy's vector
loops may use other implementations, which differ in the last bit on some CPUs).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from simcore.codes import pairs
from simcore.errors import ConfigError

ROOT = "root"
DEFAULT_ACCOUNT = "default"
RESET_PERIODS = ("NONE", "NOW", "DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY")
_LN2 = math.log(2.0)
# Rebase the growth-scaled accumulators before 2^(dt/half_life) can overflow a float64.
_MAX_HALF_LIVES = 500.0
_EPOCH_YEAR, _EPOCH_MONTH = 2024, 1  # simulation t=0 is Monday 2024-01-01 00:00 UTC


def _shares(value: object, where: str, allow_parent: bool) -> float:
    """A Fairshare value: a non-negative integer, or "parent" for users."""
    if isinstance(value, str) and value.strip().lower() == "parent":
        if not allow_parent:
            raise ConfigError(f"{where}: Fairshare='parent' is only supported on users")
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}: Fairshare must be a non-negative integer, got {value!r}")
    try:
        shares = float(value)
    except ValueError:
        raise ConfigError(f"{where}: Fairshare must be a non-negative integer or 'parent', got {value!r}") from None
    if shares < 0 or not math.isfinite(shares):
        raise ConfigError(f"{where}: Fairshare must be a non-negative integer, got {value!r}")
    return shares


@dataclass(frozen=True)
class AssocTree:
    """The static association tree, as arrays indexed by association number (0 is root)."""

    names: tuple[str, ...]        # "root", account name, or "user@account"
    parent: np.ndarray            # int64, -1 for root
    is_user: np.ndarray           # bool
    shares: np.ndarray            # float64 raw shares; NaN = Fairshare=parent (users only)
    depth: np.ndarray             # int64, root 0
    user_assoc: Mapping[tuple[str, str], int]
    default_account: Mapping[str, str]
    default_qos: tuple[str, ...]  # DefaultQOS set on the association or its nearest ancestor ("" = none)

    @classmethod
    def build(
        cls,
        accounts: Mapping[str, Mapping[str, object]],
        users: Mapping[str, Mapping[str, object]],
        job_pairs: Iterable[tuple[str, str]] = (),
    ) -> "AssocTree":
        """Build the tree from the scenario's [accounts]/[users] tables and the workload's pairs."""
        names: list[str] = [ROOT]
        own_qos: list[str] = [""]
        parent: list[int] = [-1]
        is_user: list[bool] = [False]
        shares: list[float] = [1.0]
        acct_index: dict[str, int] = {ROOT: 0}

        pending = dict(accounts)
        if ROOT in pending:
            raise ConfigError("accounts.root: 'root' is implicit and cannot be declared")
        # Add accounts parent-first; detect unknown parents and cycles.
        while pending:
            progressed = False
            for name in sorted(pending):
                table = pending[name]
                par = str(table.get("Parent", ROOT) or ROOT)
                if par in acct_index:
                    acct_index[name] = len(names)
                    names.append(name)
                    parent.append(acct_index[par])
                    is_user.append(False)
                    shares.append(_shares(table.get("Fairshare", 1), f"accounts.{name}.Fairshare", False))
                    own_qos.append(str(table.get("DefaultQOS", "") or ""))
                    del pending[name]
                    progressed = True
            if not progressed:
                name = sorted(pending)[0]
                par = pending[name].get("Parent")
                raise ConfigError(
                    f"accounts.{name}.Parent: {par!r} is not 'root' or a declared account "
                    f"(or the Parent links form a cycle)"
                )

        def ensure_account(acct: str) -> int:
            if acct not in acct_index:
                acct_index[acct] = len(names)
                names.append(acct)
                parent.append(0)
                is_user.append(False)
                shares.append(1.0)
                own_qos.append("")
            return acct_index[acct]

        user_assoc: dict[tuple[str, str], int] = {}
        default_account: dict[str, str] = {}

        def add_user(user: str, acct: str, share: float, qos: str = "") -> None:
            if (user, acct) in user_assoc:
                return
            par = ensure_account(acct)
            user_assoc[(user, acct)] = len(names)
            names.append(f"{user}@{acct}")
            parent.append(par)
            is_user.append(True)
            shares.append(share)
            own_qos.append(qos)

        for user in sorted(users):
            table = users[user]
            accts = [a.strip() for a in str(table.get("Account", "") or "").split(",") if a.strip()]
            if not accts:
                raise ConfigError(f"users.{user}.Account: missing; give the user's account (e.g. Account = \"physics\")")
            share = _shares(table.get("Fairshare", 1), f"users.{user}.Fairshare", True)
            for acct in accts:
                if acct not in acct_index and acct not in accounts:
                    raise ConfigError(
                        f"users.{user}.Account: {acct!r} is not a declared account "
                        f"(declared: {', '.join(sorted(accounts)) or 'none'})"
                    )
                add_user(user, acct, share, str(table.get("DefaultQOS", "") or ""))
            default_account[user] = accts[0]

        for user, acct in sorted(set(job_pairs)):
            add_user(user, acct or default_account.get(user, DEFAULT_ACCOUNT), 1.0)

        parent_arr = np.asarray(parent, dtype=np.int64)
        depth = np.zeros(len(names), dtype=np.int64)
        default_qos = list(own_qos)
        for i in range(1, len(names)):  # parents always precede children
            depth[i] = depth[parent_arr[i]] + 1
            default_qos[i] = own_qos[i] or default_qos[parent_arr[i]]
        return cls(
            names=tuple(names),
            parent=parent_arr,
            is_user=np.asarray(is_user, dtype=bool),
            shares=np.asarray(shares, dtype=np.float64),
            depth=depth,
            user_assoc=user_assoc,
            default_account=default_account,
            default_qos=tuple(default_qos),
        )

    def assoc_of(self, user: str, account: str) -> int:
        """The association index of a job's (user, account), resolving an empty account."""
        if not account:
            account = self.default_account.get(user, DEFAULT_ACCOUNT)
        try:
            return self.user_assoc[(user, account)]
        except KeyError:
            raise ConfigError(f"job of user {user!r} in account {account!r}: no association (not in the workload given to the tree)") from None

    def job_assocs(self, users: Sequence[str], accounts: Sequence[str]) -> np.ndarray:
        """Association index of every job (one lookup per distinct pair)."""
        distinct, code = pairs(users, accounts)
        return np.array([self.assoc_of(*pair) for pair in distinct], dtype=np.int64)[code]

    def job_qos(self, qos: Sequence[str], assoc: np.ndarray) -> list[str]:
        """Each job's QOS: its own, else its association's DefaultQOS, else "normal" (Slurm's default)."""
        dq = self.default_qos
        distinct, code = pairs(qos, assoc)
        return np.array([q or dq[a] or "normal" for q, a in distinct], dtype=object)[code].tolist()

    def ancestors(self, assoc: int) -> list[int]:
        """The association and its ancestors up to (and including) root."""
        out = [assoc]
        while self.parent[out[-1]] >= 0:
            out.append(int(self.parent[out[-1]]))
        return out


_MEM_UNITS = {"": 1.0, "K": 1.0 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0**2, "P": 1024.0**3}


def parse_billing_weights(text: str, key: str) -> dict[str, float]:
    """TRESBillingWeights ("CPU=1.0,Mem=0.25G,GRES/gpu=10") as per-unit weights; Mem per MB.

    A unit suffix on the Mem weight is per that unit (0.25G = 0.25 per GB), as in slurm.conf(5).
    Keys are lower-cased TRES names: cpu, mem, node, gres/gpu, gres/gpu:<type>.
    """
    weights: dict[str, float] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if not sep or not (name in ("cpu", "mem", "node") or name == "gres/gpu" or name.startswith("gres/gpu:")):
            raise ConfigError(f"{key}: {item!r} is not TRES=weight with TRES one of CPU, Mem, Node, GRES/gpu, GRES/gpu:<type>")
        value = value.strip()
        unit = ""
        if name == "mem" and value[-1:].upper() in _MEM_UNITS:
            unit, value = value[-1].upper(), value[:-1]
        try:
            w = float(value)
        except ValueError:
            raise ConfigError(f"{key}: weight of {name!r} must be a number, got {value!r}") from None
        weights[name] = w / _MEM_UNITS[unit] if name == "mem" else w
    return weights


def billing(
    weights: Mapping[str, float], cpus: np.ndarray, mem_mb: np.ndarray, nodes: np.ndarray,
    gpus: np.ndarray, gpu_type: np.ndarray | None = None,
) -> np.ndarray:
    """Billable TRES per job (mem_mb is the job's total); no weights = allocated CPUs (Slurm default).

    A typed weight (GRES/gpu:a100) adds to the untyped one for jobs of that type, as when both
    TRES are tracked in AccountingStorageTRES.
    """
    cpus = np.asarray(cpus, dtype=np.float64)
    if not weights:
        return cpus.copy()
    out = weights.get("cpu", 0.0) * cpus
    out = out + weights.get("mem", 0.0) * np.asarray(mem_mb, dtype=np.float64)
    out = out + weights.get("node", 0.0) * np.asarray(nodes, dtype=np.float64)
    g = np.asarray(gpus, dtype=np.float64)
    out = out + weights.get("gres/gpu", 0.0) * g
    for name, w in weights.items():
        if name.startswith("gres/gpu:") and gpu_type is not None:
            out = out + w * g * (np.asarray(gpu_type) == name.split(":", 1)[1])
    return out


def reset_boundaries_after(period: str, t: float) -> float:
    """The first PriorityUsageResetPeriod boundary strictly after simulation time t (inf if none)."""
    if period in ("NONE", "NOW"):
        return math.inf
    if period == "DAILY":
        return (math.floor(t / 86400) + 1) * 86400.0
    if period == "WEEKLY":  # t=0 is a Monday; Slurm resets on Sunday 00:00 -> t = 6 days + k weeks
        return (math.floor((t - 6 * 86400) / (7 * 86400)) + 1) * 7 * 86400.0 + 6 * 86400
    step = {"MONTHLY": 1, "QUARTERLY": 3, "YEARLY": 12}[period]
    month = 0  # months since the epoch
    while True:
        month += step
        y, m = divmod(_EPOCH_MONTH - 1 + month, 12)
        boundary = calendar.timegm((_EPOCH_YEAR + y, m + 1, 1, 0, 0, 0)) - calendar.timegm(
            (_EPOCH_YEAR, _EPOCH_MONTH, 1, 0, 0, 0)
        )
        if boundary > t:
            return float(boundary)


class Fairshare:
    """Decayed usage per association and the fairshare factor per user association.

    Usage is kept growth-scaled: between rebases at time `t_ref`, a user's running-rate integral is
    accumulated as sum of rate * integral of 2^((s - t_ref)/h) ds, so a rate change costs O(1) and
    the whole vector is decayed only when factors are asked for (`advance`).
    """

    def __init__(
        self,
        tree: AssocTree,
        half_life_s: float,
        fair_tree: bool = True,
        damping: float = 1.0,
        reset_period: str = "NONE",
        start: float = 0.0,
    ) -> None:
        if reset_period not in RESET_PERIODS:
            raise ConfigError(
                f"priority.PriorityUsageResetPeriod: {reset_period!r} is not one of {', '.join(RESET_PERIODS)}"
            )
        if damping <= 0:
            raise ConfigError(f"priority.FairShareDampeningFactor: must be >= 1, got {damping!r}")
        self.tree = tree
        self.h = float(half_life_s)
        self.fair_tree = fair_tree
        self.damping = float(damping)
        self.reset_period = reset_period
        n = len(tree.names)
        self.usage_ref = np.zeros(n)       # decayed usage at t_ref (user associations only)
        self.acc = np.zeros(n)             # growth-scaled integral since t_ref up to t_last
        self.rate = np.zeros(n)            # current billable rate (units per second)
        self.t_last = np.full(n, float(start))
        self.t_ref = float(start)
        self._growth_at: dict[float, float] = {}   # time -> _growth(time) since t_ref (_integral)
        self.next_reset = reset_boundaries_after(reset_period, start)
        self._static()

    # ----- static, precomputed once -----
    def _static(self) -> None:
        t = self.tree
        n = len(t.names)
        use_parent = np.isnan(t.shares)
        raw = np.where(use_parent, 0.0, t.shares)
        level = np.zeros(n)
        np.add.at(level, t.parent[1:], raw[1:])
        self.level_shares = np.where(t.parent >= 0, level[np.maximum(t.parent, 0)], 1.0)
        self.level_shares[0] = 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            s_level = np.where(self.level_shares > 0, raw / self.level_shares, 0.0)
        s_level[0] = 1.0
        self.s_level = s_level
        self.use_parent = use_parent
        norm = np.ones(n)
        order = np.argsort(t.depth, kind="stable")
        for a in order[1:]:
            norm[a] = norm[t.parent[a]] * s_level[a]
        self.s_norm = norm
        # (ancestor, user) pairs for summing user usage up the tree with one bincount.
        users = np.flatnonzero(t.is_user)
        self.users = users
        anc_pairs: list[tuple[int, int]] = []
        max_depth = int(t.depth[users].max()) if len(users) else 0
        path = np.full((len(users), max_depth), -1, dtype=np.int64)  # level k+1 ancestor, user last
        for row, u in enumerate(users):
            chain = t.ancestors(int(u))          # u, parent, ..., root
            for a in chain:
                anc_pairs.append((a, int(u)))
            down = chain[::-1][1:]               # without root, top first, ends with u
            path[row, : len(down)] = down
        self.pair_anc = np.asarray([p[0] for p in anc_pairs], dtype=np.int64)
        self.pair_user = np.asarray([p[1] for p in anc_pairs], dtype=np.int64)
        self.path = path
        self.path_len = t.depth[users]
        self._parent0 = np.maximum(t.parent, 0)
        self._zero_share = self.s_level == 0
        self._zero_share[0] = False
        self._any_parent = bool(use_parent.any())
        self._pad = path < 0
        self._padded = bool(self._pad.any())
        self._path0 = np.maximum(path, 0)
        self._flag = np.where(self._pad, False, ~t.is_user[self._path0]).astype(np.int8)
        self._mixed_depth = len(set(self.path_len.tolist())) > 1
        self.by_depth = [np.flatnonzero(t.depth == d) for d in range(1, int(t.depth.max()) + 1)] if n > 1 else []

    # ----- usage bookkeeping -----
    def _growth(self, t: float) -> float:
        return math.exp2((t - self.t_ref) / self.h)

    def _integral(self, a: float, b: float) -> float:
        """Integral over [a, b] of 2^((s - t_ref)/h) ds (plain length when decay is off). The growth
        at a time is remembered until the next rebase: the jobs starting and ending at one time,
        and the next change of an association (its t_last), ask for it again."""
        if self.h <= 0:
            return b - a
        cache = self._growth_at
        gb = cache.get(b)
        if gb is None:
            gb = cache[b] = self._growth(b)
        ga = cache.get(a)
        if ga is None:
            ga = cache[a] = self._growth(a)
        return (self.h / _LN2) * (gb - ga)

    def change_rate(self, assoc: int, delta: float, now: float) -> None:
        """A job of `assoc` started (delta > 0) or stopped (delta < 0) consuming `delta` units/s."""
        if self.h > 0 and now - self.t_ref > _MAX_HALF_LIVES * self.h:
            self.advance(now)
        rate = self.rate[assoc]
        if rate:
            self.acc[assoc] += rate * self._integral(self.t_last[assoc], now)
        self.t_last[assoc] = now
        rate = rate + delta
        self.rate[assoc] = 0.0 if abs(rate) < 1e-9 else rate

    def advance(self, now: float) -> None:
        """Integrate every association's usage up to `now` and apply a due usage reset."""
        if now < self.t_ref:
            raise ValueError(f"fairshare time went backwards: {now} < {self.t_ref}")
        if self.reset_period == "NOW" or now >= self.next_reset:
            self.usage_ref[:] = 0.0
            self.reset_period = "NONE" if self.reset_period == "NOW" else self.reset_period
            self.next_reset = reset_boundaries_after(self.reset_period, now)
        active = self.rate != 0
        if self.h <= 0:
            self.usage_ref += self.acc
            self.usage_ref[active] += self.rate[active] * (now - self.t_last[active])
        else:
            # The open tail [t_last, now] is integrated in decayed form so long gaps cannot overflow.
            self.usage_ref = (self.usage_ref + self.acc) * math.exp2(-(now - self.t_ref) / self.h)
            scale = self.h / _LN2
            for a in np.flatnonzero(active).tolist():
                tail = -math.expm1(-(now - float(self.t_last[a])) * _LN2 / self.h)
                self.usage_ref[a] += float(self.rate[a]) * scale * tail
        self.acc[:] = 0.0
        self.t_last[:] = now
        self.t_ref = float(now)
        self._growth_at.clear()

    def usage(self, now: float) -> np.ndarray:
        """Decayed raw usage of every association at `now` (accounts = sum of their users)."""
        self.advance(now)
        return np.bincount(self.pair_anc, weights=self.usage_ref[self.pair_user], minlength=len(self.tree.names))

    def flat(self) -> dict:
        """The state and the tree as arrays, for simcore's compiled engine (its Usage class)."""
        return {
            "h": self.h, "ln2": _LN2, "damping": self.damping, "fair_tree": self.fair_tree, "t_ref": self.t_ref,
            "next_reset": self.next_reset, "next_reset_after": partial(reset_boundaries_after, self.reset_period),
            "usage_ref": self.usage_ref, "acc": self.acc, "rate": self.rate, "t_last": self.t_last,
            "s_level": self.s_level, "level_shares": self.level_shares, "s_norm": self.s_norm,
            "raw": np.where(self.use_parent, 0.0, self.tree.shares), "parent": self.tree.parent,
            "parent0": self._parent0, "zero_share": self._zero_share, "use_parent": self.use_parent,
            "any_parent": self._any_parent, "pair_anc": self.pair_anc,
            "pair_user": self.pair_user, "users": self.users, "depth": self.path.shape[1], "path0": self._path0,
            "pad": self._pad, "flag": self._flag, "path_len": self.path_len, "mixed_depth": self._mixed_depth,
            "deep": np.concatenate([np.zeros(0, dtype=np.int64), *self.by_depth[1:]]),
        }

    # ----- factors -----
    def factors(self, now: float) -> np.ndarray:
        """Fairshare factor in [0, 1] per association (meaningful for user associations)."""
        usage = self.usage(now)
        return self._fair_tree(usage) if self.fair_tree else self._classic(usage)

    def level_fs(self, usage: np.ndarray) -> np.ndarray:
        """Fair Tree's Level Fairshare S/U of every association (sshare's "Level FS")."""
        par_usage = usage[self._parent0]
        u = np.divide(usage, par_usage, out=np.zeros_like(usage), where=par_usage > 0)
        with np.errstate(over="ignore"):       # a share over a vanishing usage share: infinite
            lf = np.divide(self.s_level, u, out=np.full_like(usage, np.inf), where=u > 0)
        lf[self._zero_share] = 0.0
        if self._any_parent:
            lf[self.use_parent] = np.inf
        return lf

    def _fair_tree(self, usage: np.ndarray) -> np.ndarray:
        out = np.zeros(len(self.tree.names))
        n_users = len(self.users)
        if n_users == 0:
            return out
        neg_lf = -self.level_fs(usage)[self._path0]
        if self._padded:
            neg_lf[self._pad] = 0.0
        flag = self._flag
        keys = []
        for k in range(flag.shape[1] - 1, -1, -1):     # lexsort: last key is primary
            keys.append(flag[:, k])
            keys.append(neg_lf[:, k])
        order = np.lexsort(keys)
        lf_s = neg_lf[order]
        # Tie with the previous user in visit order (Slurm's tie rules 1-3, see module docstring).
        same = lf_s[1:] == lf_s[:-1]
        if self._mixed_depth:
            fl_s = flag[order]
            same &= fl_s[1:] == fl_s[:-1]
            tied = same.all(axis=1)
            j = same.argmin(axis=1)
            rows = np.arange(1, n_users)
            prev = rows - 1
            len_s = self.path_len[order]
            tied |= (
                (len_s[prev] == j + 1)
                & (lf_s[prev, j] == lf_s[rows, j])
                & (fl_s[prev, j] == 0)
                & (fl_s[rows, j] == 1)
            )
        else:  # all users at one depth: flags are identical per column, LF paths decide alone
            tied = same.all(axis=1)
        leader = np.arange(n_users)
        leader[1:][tied] = 0
        np.maximum.accumulate(leader, out=leader)
        out[self.users[order]] = (n_users - leader) / n_users
        return out

    def _classic(self, usage: np.ndarray) -> np.ndarray:
        t = self.tree
        root = usage[0]
        u_norm = usage / root if root > 0 else np.zeros_like(usage)
        eff = u_norm.copy()
        for level in self.by_depth[1:]:        # children of root keep U_eff = U_norm
            par = t.parent[level]
            ls = self.level_shares[level]
            raw = np.where(self.use_parent[level], 0.0, t.shares[level])
            with np.errstate(divide="ignore", invalid="ignore"):
                eff[level] = np.where(ls > 0, u_norm[level] + (eff[par] - u_norm[level]) * raw / ls, eff[par])
        eff_u = eff.copy()
        s_u = self.s_norm.copy()
        parent_users = self.use_parent & t.is_user
        eff_u[parent_users] = eff[t.parent[parent_users]]
        s_u[parent_users] = self.s_norm[t.parent[parent_users]]
        out = np.zeros(len(t.names))
        for a in self.users.tolist():
            if s_u[a] > 0:
                out[a] = math.exp2(-(float(eff_u[a]) / float(s_u[a])) / self.damping)
        return out
