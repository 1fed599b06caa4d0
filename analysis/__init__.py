"""analysis: questions asked of a results folder (docs/analysis.md).

db (DuckDB views and Polars frames: runs, cells, jobs, timeseries), sql (read-only queries),
pareto (fronts over cells with replicate spread), policy_text (configurations in users' words),
labels and units (names and units people read), drilldown, plots and report (report.html/md).
It knows nothing of how the results were produced.
"""
