"""python -m cluster.fidelity record CASE [--runs 1,2,3] | compare [CASE...] | table

record: run the case on the local real Slurm (as root) and write tests/fidelity/golden/CASE/run<k>.*;
compare: replay every golden of CASE in simcore and print per-job differences;
table: the agreement table of docs/fidelity.md.
"""

from __future__ import annotations

import argparse
import sys

from simcore.errors import TrilemmaError


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster.fidelity", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record golden traces of a case on the local real Slurm")
    rec.add_argument("case")
    rec.add_argument("--runs", default="", help="run numbers to (re)record, e.g. 1,2,3 (default: 1..case.runs)")
    cmp_ = sub.add_parser("compare", help="replay goldens in simcore and print per-job differences")
    cmp_.add_argument("cases", nargs="*")
    sub.add_parser("table", help="print the agreement table (Markdown)")
    args = parser.parse_args(argv)
    try:
        from cluster.fidelity.case import case_names, load_case

        if args.command == "record":
            from cluster.fidelity.record import record_case

            case = load_case(args.case)
            runs = [int(x) for x in args.runs.split(",") if x] or list(range(1, case.runs + 1))
            record_case(case, runs, log=lambda m: print(m, flush=True))
        elif args.command == "compare":
            from cluster.fidelity.compare import compare_case, format_details

            for name in args.cases or case_names():
                for result in compare_case(load_case(name)):
                    print(format_details(result))
        else:
            from cluster.fidelity.compare import agreement_table

            print(agreement_table(case_names()))
    except TrilemmaError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
