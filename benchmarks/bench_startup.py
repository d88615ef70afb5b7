"""Start-up time of ``s2w --help`` against ``python -c "import click, rich"``, in one run.

Each command runs in a fresh interpreter (a subprocess), so the times include Python's own
start-up. After one warm-up run of each command, the two are run alternately ``--repeats`` times
and the script prints the medians and the ratio ``s2w --help`` / ``import click, rich``. The
reference is the floor of a click and rich command line: ``s2w --help`` cannot import less.
``python -c pass`` is timed as well, to show how much of both is the interpreter itself.

``s2w --help`` runs through the ``s2w`` console script next to ``sys.executable`` (through
``s2w_toolkit.cli.main:main`` if there is no such script). ``python -m s2w_toolkit.cli.main``
is not used: that module has no ``__main__`` block, so it exits at once without printing
anything.

It then checks, in one more subprocess, which heavy modules ``s2w --help`` imports (``torch``
should not be among them), and lists the packages that take longest to import, from ``python -X importtime``.

    python benchmarks/bench_startup.py [--repeats 7] [--top 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HEAVY = ("torch", "captum", "numpy", "PIL", "skimage", "matplotlib", "dlib", "onnx")

# Runs ``s2w --help`` inside this interpreter, then reports which HEAVY modules it imported.
PROBE = """
import contextlib, io, json, sys
from s2w_toolkit.cli.main import cli
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        cli(["--help"], prog_name="s2w")
    except SystemExit:
        pass
print(json.dumps({"help_ok": "Usage: s2w" in out.getvalue(),
                  "loaded": {m: m in sys.modules for m in %r}}))
""" % (HEAVY,)

MAIN = "import sys; sys.argv[0] = 's2w'; from s2w_toolkit.cli.main import main; main()"


def s2w_command() -> list[str]:
    """``s2w`` as a command line: the console script next to this interpreter, or its entry point."""
    script = Path(sys.executable).with_name("s2w")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", MAIN]


def run_once(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def import_profile() -> tuple[dict, list[tuple[int, str, float]]]:
    """Run ``s2w --help`` once under ``python -X importtime``: the probe's report, and every
    import as ``(depth, module, own seconds)`` in the order Python lists them (children first)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", PROBE], capture_output=True, text=True,
                          check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    imports = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, _, name = line.split(":", 1)[1].split("|")
        if not own.strip().isdigit():  # the header line
            continue
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        imports.append((depth, name.strip(), int(own) / 1e6))
    return report, imports


def importer(imports: list[tuple[int, str, float]], module: str) -> str:
    """The module whose import first pulled in ``module`` (importtime lists a parent after its children)."""
    for i, (depth, name, _) in enumerate(imports):
        if name == module:
            parent = next((n for d, n, _ in imports[i + 1:] if d < depth), None)
            return parent or "(the command itself)"
    return ""


def slowest_packages(imports: list[tuple[int, str, float]], count: int) -> list[tuple[str, float]]:
    """The ``count`` top-level packages whose own modules took longest to import."""
    times: dict[str, float] = {}
    for _, name, seconds in imports:
        package = name.split(".")[0]
        times[package] = times.get(package, 0.0) + seconds
    return sorted(times.items(), key=lambda item: -item[1])[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each command (after one warm-up)")
    parser.add_argument("--top", type=int, default=5, help="how many of the slowest packages to list")
    args = parser.parse_args()

    commands = {
        "s2w --help": s2w_command() + ["--help"],
        'python -c "import click, rich"': [sys.executable, "-c", "import click, rich"],
        'python -c "pass"': [sys.executable, "-c", "pass"],
    }
    _, help_text = run_once(commands["s2w --help"])  # warm-up, and a check that help is printed
    if "Usage: s2w" not in help_text:
        raise SystemExit(f"{' '.join(commands['s2w --help'])} did not print the help:\n{help_text}")
    for command in list(commands.values())[1:]:
        run_once(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):  # alternate, so that drift in the machine's load hits all alike
        for name, command in commands.items():
            times[name].append(run_once(command)[0])
    medians = {name: statistics.median(values) for name, values in times.items()}

    probe, imports = import_profile()
    if not probe["help_ok"]:
        raise SystemExit("s2w --help printed no usage line in the import-profile run")
    reference = 'python -c "import click, rich"'

    table = Table(title=f"Start-up, median of {args.repeats} runs each (after a warm-up)")
    table.add_column("measure")
    table.add_column("median seconds", justify="right")
    table.add_column("min .. max", justify="right")
    for name, seconds in medians.items():
        table.add_row(name, f"{seconds:.3f}", f"{min(times[name]):.3f} .. {max(times[name]):.3f}")
    table.add_row("[bold]s2w --help / import click, rich[/]",
                  f"[bold]{medians['s2w --help'] / medians[reference]:.2f}x[/]", "")
    table.add_row("s2w --help - import click, rich",
                  f"{medians['s2w --help'] - medians[reference]:+.3f}", "")
    Console().print(table)

    table = Table(title="Heavy modules imported by s2w --help (python -X importtime, one run)")
    table.add_column("module")
    table.add_column("imported", justify="right")
    table.add_column("first imported by")
    for module, loaded in probe["loaded"].items():
        table.add_row(module, "[red]yes[/]" if loaded else "no", importer(imports, module) if loaded else "")
    Console().print(table)
    Console().print(f"torch imported by s2w --help: [bold]{'YES' if probe['loaded']['torch'] else 'no'}[/]")

    table = Table(title=f"Slowest packages to import under s2w --help (same run; {len(imports)} modules)")
    table.add_column("package")
    table.add_column("seconds (its own modules)", justify="right")
    for package, seconds in slowest_packages(imports, args.top):
        table.add_row(package, f"{seconds:.3f}")
    Console().print(table)

if __name__ == "__main__":
    main()
