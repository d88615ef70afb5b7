"""The plugin manager: listing, blocking, tracing, name clashes and failing plugins."""

import json
import subprocess
import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest

from s2w_toolkit import Explainer, Explanation, hookimpl
from s2w_toolkit.cli.main import S2WGroup
from s2w_toolkit.errors import PluginError
from s2w_toolkit.registry import PluginWarning, Registry, build_plugin_manager, get_registry, set_registry


class FakeEntryPoint:
    """Stands in for an installed distribution's ``s2w`` entry point."""

    def __init__(self, name, module, dist="fake-dist", version="1.2.3"):
        self.name, self._module = name, module
        self.dist = SimpleNamespace(name=dist, version=version)

    def load(self):
        if isinstance(self._module, Exception):
            raise self._module
        return self._module


def make_explainer(name, fail=False):
    class Made(Explainer):
        def explain(self, pair, backbone, attributes=None):
            if fail:
                raise RuntimeError("boom inside the plugin")
            ones = np.ones((5, 5))
            return Explanation(score=backbone.similarity(pair.a, pair.b).item(), maps={"a": ones, "b": ones})

    Made.name = name
    return Made


def plugin_module(name, *explainers, raises=False, command=None):
    module = types.ModuleType(name)

    @hookimpl
    def s2w_register_explainers():
        if raises:
            raise ValueError("hook exploded")
        return list(explainers)

    module.s2w_register_explainers = s2w_register_explainers
    if command is not None:
        @hookimpl
        def s2w_register_commands(cli):
            cli.add_command(command)

        module.s2w_register_commands = s2w_register_commands
    return module


def registry_with(*eps):
    return Registry(*build_plugin_manager(entry_points=lambda: list(eps)))


@pytest.fixture
def use_registry():
    def install(reg):
        set_registry(reg)
        return reg

    yield install
    set_registry(None)


def test_builtins_are_listed_with_their_distribution(run_cli):
    result = run_cli("plugins", "--json")
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)}
    assert rows[("backbone", "dlib-resnet")]["distribution"] == "s2w-toolkit"
    assert rows[("explainer", "input-gradient")]["version"] == "0.1.0"


def test_backbones_are_listed_with_input_and_embedding_size(run_cli):
    rows = {r["name"]: r for r in json.loads(run_cli("plugins", "--json").stdout) if r["kind"] == "backbone"}
    assert (rows["dlib-resnet"]["input"], rows["dlib-resnet"]["embedding"]) == ("150x150", "128")
    assert (rows["vggface2-senet50"]["input"], rows["vggface2-senet50"]["embedding"]) == ("224x224", "2048")
    table = run_cli("plugins").stdout
    assert any(line.split()[:3] == ["arcface-r100", "112x112", "512"] for line in table.splitlines())


def test_builtin_labels_match_the_classes():
    reg = get_registry()
    for entry in reg.all_entries():
        if entry.kind == "backbone" and entry.plugin == "builtins":
            cls = entry.load()
            assert cls.name == entry.name
            assert entry.target.details == cls.summary(), entry.name


def test_example_plugin_installed_as_a_package_is_listed(run_cli):
    pytest.importorskip("center_prior", reason="install ./plugins/s2w-center-prior (README test command)")
    rows = {r["name"]: r for r in json.loads(run_cli("plugins", "--json").stdout)}
    assert rows["center-prior"]["distribution"] == "s2w-center-prior"
    assert rows["center-prior"]["kind"] == "explainer"


def test_the_broken_example_plugin_is_listed_as_a_third_party(run_cli):
    from importlib import metadata

    try:
        metadata.distribution("s2w-broken-example")
    except metadata.PackageNotFoundError:
        pytest.skip("install ./tests/plugins/s2w-broken (README test command)")
    import s2w_broken_example

    rows = json.loads(run_cli("plugins", "--json").stdout)
    broken = {r["name"] for r in rows if r["distribution"] == "s2w-broken-example"}
    assert broken == {cls.name for cls in s2w_broken_example.EXPLAINERS} and "broken-raises" in broken


def _run_cli_then_list_heavy_modules(argument_lists: str) -> str:
    """Output of running the CLI on each argument list (a Python expression) in a fresh process,
    then a line ``HEAVY [...]``: which of numpy, PIL, torch and matplotlib it imported."""
    code = (
        "import sys\n"
        "from s2w_toolkit.cli.main import cli\n"
        f"for args in {argument_lists}:\n"
        "    try: cli(args, prog_name='s2w')\n"
        "    except SystemExit: pass\n"
        "print('HEAVY', sorted(m for m in ('numpy', 'PIL', 'torch', 'matplotlib') if m in sys.modules))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_help_and_plugins_do_not_import_torch():
    out = _run_cli_then_list_heavy_modules("(['--help'], ['plugins'])")
    assert "dlib-resnet" in out and "torch'" not in out.split("HEAVY")[-1]


def test_help_imports_neither_numpy_nor_pil():
    out = _run_cli_then_list_heavy_modules("(['--help'], *([c, '--help'] for c in sorted(cli.commands)))")
    assert "Usage: s2w benchmark" in out and "Usage: s2w explain" in out
    assert "HEAVY []" in out


def test_a_plugin_that_fails_to_import_is_skipped_with_a_warning():
    good = plugin_module("good", make_explainer("good-one"))
    with pytest.warns(PluginWarning, match="'broken' .*failed to load: ImportError: no such thing"):
        reg = registry_with(FakeEntryPoint("broken", ImportError("no such thing")), FakeEntryPoint("good", good))
    assert "good-one" in reg.names("explainer") and "input-gradient" in reg.names("explainer")


def test_a_hook_that_raises_is_skipped_with_a_warning():
    with pytest.warns(PluginWarning, match="'bad' raised in s2w_register_explainers"):
        reg = registry_with(FakeEntryPoint("bad", plugin_module("bad", raises=True)),
                            FakeEntryPoint("ok", plugin_module("ok", make_explainer("ok-one"))))
    assert "ok-one" in reg.names("explainer")


def test_name_clash_names_both_distributions():
    first = FakeEntryPoint("p1", plugin_module("p1", make_explainer("twin")), dist="dist-one", version="1.0")
    second = FakeEntryPoint("p2", plugin_module("p2", make_explainer("twin")), dist="dist-two", version="2.0")
    with pytest.warns(PluginWarning, match="dist-one 1.0.*dist-two 2.0"):
        reg = registry_with(first, second)
    with pytest.raises(PluginError, match="dist-one 1.0 .*and dist-two 2.0"):
        reg.explainer("twin")
    assert reg.explainer("input-gradient").name == "input-gradient"


def test_disable_plugins_blocks_by_entry_point_name(monkeypatch):
    monkeypatch.setenv("S2W_DISABLE_PLUGINS", "extra, builtins")
    reg = registry_with(FakeEntryPoint("extra", plugin_module("extra", make_explainer("extra-one"))),
                        FakeEntryPoint("kept", plugin_module("kept", make_explainer("kept-one"))))
    assert reg.names("explainer") == ["kept-one"]


def test_trace_plugins_prints_hook_calls(monkeypatch, capsys):
    monkeypatch.setenv("S2W_TRACE_PLUGINS", "1")
    registry_with(FakeEntryPoint("traced", plugin_module("traced", make_explainer("t1")), dist="tr-dist"))
    err = capsys.readouterr().err
    assert "plugin traced loaded from tr-dist 1.2.3" in err
    assert "s2w_register_explainers() -> plugin traced" in err


def test_unknown_explainer_lists_the_known_ones(run_cli, demo):
    result = run_cli("explain", "-e", "no-such-method", demo["obama"], demo["biden"])
    assert result.exit_code == 1
    assert "unknown explainer 'no-such-method'; known:" in result.stderr and "input-gradient" in result.stderr


def test_unknown_backbone_lists_the_known_ones(run_cli, demo):
    result = run_cli("verify", "--backbone", "resnet-9000", demo["obama"], demo["biden"])
    assert result.exit_code == 1 and "unknown backbone 'resnet-9000'; known: arcface-r100" in result.stderr
    assert "dlib-resnet" in result.stderr


def test_a_raising_explainer_does_not_take_down_the_others(run_cli, use_registry, tmp_path, demo):
    use_registry(registry_with(FakeEntryPoint("mixed", plugin_module(
        "mixed", make_explainer("fails", fail=True), make_explainer("works")))))
    result = run_cli("explain", "-e", "fails", "-e", "works", demo["obama"], demo["biden"], "--out", tmp_path)
    assert result.exit_code == 1
    assert "explainer 'fails' failed: RuntimeError: boom inside the plugin" in result.stderr
    assert (tmp_path / "works.json").exists() and (tmp_path / "works.png").exists()
    assert not (tmp_path / "fails.json").exists()


def test_plugins_can_add_commands(run_cli, use_registry, monkeypatch):
    import click

    from s2w_toolkit.cli.main import cli

    @click.command("hello-plugin")
    def hello():
        click.echo("hello from a plugin command")

    use_registry(registry_with(FakeEntryPoint("cmd", plugin_module("cmd", command=hello))))
    monkeypatch.setattr(S2WGroup, "_plugins_loaded", False)
    try:
        result = run_cli("hello-plugin")
        assert result.stdout.strip() == "hello from a plugin command"
    finally:
        cli.commands.pop("hello-plugin", None)
