"""The docs say what the code does: every hook documented, the guide's plugin is the tested one."""

import re
from pathlib import Path

from s2w_toolkit import hookspecs

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "plugin-guide.md").read_text()


def _hook_names():
    return [name for name in dir(hookspecs) if name.startswith("s2w_")]


def test_every_hook_is_documented_in_the_plugin_guide():
    """Each hook has a section that states its real signature, and the guide's code (which
    tests/test_plugin_guide.py runs) implements it with @hookimpl."""
    import inspect

    assert len(_hook_names()) == 5
    blocks = "".join(re.findall(r"```python\n(.*?)```", GUIDE, flags=re.S))
    for name in _hook_names():
        assert f"### {name}\n" in GUIDE, f"hook {name} has no section in docs/plugin-guide.md"
        section = GUIDE.split(f"### {name}\n", 1)[1].split("\n### ", 1)[0]
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"`{name}({params})" in section, f"the {name} section does not state {name}({params})"
        assert re.search(rf"@hookimpl\ndef {name}\({params}\):", blocks), f"no example implements {name}"


def test_guide_example_is_the_plugin_the_tests_install():
    code = (ROOT / "plugins" / "s2w-center-prior" / "center_prior.py").read_text()
    blocks = re.findall(r"```python\n(.*?)```", GUIDE, flags=re.S)
    assert code in blocks


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_readme_links_resolve():
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\((docs/[^)]+)\)", readme):
        path, _, anchor = target.partition("#")
        assert (ROOT / path).is_file(), target
        if anchor:
            headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(), re.M)
            assert anchor in {_slug(h) for h in headings}, target


def test_every_registered_explainer_has_a_section_with_a_figure(project_explainers):
    text = (ROOT / "docs" / "explainers.md").read_text()
    for name in project_explainers:
        if name == "center-prior":  # the plugin guide's example, documented there
            continue
        headings = [line for line in text.splitlines() if line.startswith("#")]
        assert any(name in heading for heading in headings), f"docs/explainers.md has no section for {name}"
    for target in re.findall(r"\]\((img/[^)]+)\)", text):
        assert (ROOT / "docs" / target).is_file(), target


def test_no_module_registers_hooks_outside_the_capture_module():
    """Hooks live in s2w_toolkit/capture.py alone (issue 17): everything else uses its helpers."""
    pattern = re.compile(r"register_(forward|full_backward|backward|forward_pre|full_backward_pre)_hook")
    offenders = [str(path.relative_to(ROOT)) for folder in ("s2w_toolkit", "plugins", "benchmarks")
                 for path in (ROOT / folder).rglob("*.py")
                 if "build" not in path.parts and path.name != "capture.py" and pattern.search(path.read_text())]
    assert offenders == []
    assert pattern.search((ROOT / "s2w_toolkit" / "capture.py").read_text())


def test_ci_runs_the_readme_test_command_and_workers_share_the_cores():
    """``.ci/run`` runs README's test command (everything, ``--slow``); under pytest-xdist each
    worker runs torch on its share of the cores, so that the workers do not oversubscribe them."""
    import os

    import torch

    readme = (ROOT / "README.md").read_text()
    commands = [line.strip() for line in readme.splitlines() if line.strip().startswith("python3 -m venv")
                and "pytest" in line]
    assert len(commands) == 1 and commands[0].endswith("python -m pytest -q --slow")
    assert commands[0] in (ROOT / ".ci" / "run").read_text().splitlines()
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:  # conftest.py sets OMP_NUM_THREADS (unless the caller did) and torch's threads to it
        assert torch.get_num_threads() == int(os.environ["OMP_NUM_THREADS"])
