"""The project's user-facing exception hierarchy.

Every error caused by bad input (scenario or grid files, workload files, slurm.conf, CLI
arguments) is a `TrilemmaError`. Its message is one line that names the file, line or key,
what was found and what is allowed; the CLI prints it without a traceback and exits 2.
Other packages subclass these rather than inventing parallel hierarchies.
"""


class TrilemmaError(Exception):
    """Bad user input; the CLI prints `Error: <message>` and exits with status 2."""


class ConfigError(TrilemmaError):
    """A scenario, grid or slurm.conf value is missing, unknown or out of range."""


class WorkloadError(TrilemmaError):
    """A workload file (native table, SWF, sacct) cannot be read as jobs."""
