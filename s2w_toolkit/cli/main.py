"""The ``s2w`` command: group, error handling, and the plugin-provided sub-commands.

Torch and the models are imported inside the commands that run them, so ``s2w --help`` and
``s2w plugins`` start fast.

Example:
    >>> from click.testing import CliRunner
    >>> result = CliRunner().invoke(cli, ["verify", "no-such-photo.jpg", "other.jpg"])
    >>> result.exit_code, "Traceback" in result.output
    (1, False)
"""

from __future__ import annotations

import sys
import warnings

import click

from ..errors import S2WError

from .console import report_failure, report_warning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    report_warning(message)


class S2WGroup(click.Group):
    """Turns toolkit errors into one line on stderr and a non-zero exit (``--debug``: traceback).

    Sub-commands that plugins add through ``s2w_register_commands`` are loaded on first lookup.

    Example:
        >>> from click.testing import CliRunner
        >>> @click.group(cls=S2WGroup)
        ... def demo():
        ...     pass
        >>> @demo.command()
        ... def fail():
        ...     raise S2WError("photo.jpg: no face found")
        >>> result = CliRunner().invoke(demo, ["fail"])
        >>> print(result.exit_code, result.output.strip())
        1 error: photo.jpg: no face found
    """

    _plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if not self._plugins_loaded:
            S2WGroup._plugins_loaded = True
            if "--debug" not in sys.argv:
                warnings.showwarning = _show_warning
            from ..registry import get_registry

            get_registry().call("s2w_register_commands", cli=self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str):
        command = super().get_command(ctx, name)
        if command is None:
            self._load_plugin_commands()
            command = super().get_command(ctx, name)
        return command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except S2WError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            report_failure(exc)
            ctx.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            report_failure(f"{type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
            ctx.exit(1)


@click.group(cls=S2WGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="s2w-toolkit", prog_name="s2w")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Explain why a face-verification model finds two faces similar, or not."""
    ctx.ensure_object(dict)["debug"] = debug
    if not debug:
        warnings.showwarning = _show_warning


from .attributes import attributes  # noqa: E402
from .benchmark import benchmark  # noqa: E402
from .calibrate import calibrate  # noqa: E402
from .audit import audit  # noqa: E402
from .report import report  # noqa: E402
from .explain import explain  # noqa: E402
from .game import game  # noqa: E402
from .models import models  # noqa: E402
from .plugins import plugins  # noqa: E402
from .verify import verify  # noqa: E402

for _command in (verify, explain, attributes, benchmark, calibrate, audit, report, game, models, plugins):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="s2w")
