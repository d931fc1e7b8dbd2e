"""The `nas` command: a thin shell over the library.

Commands live one group per module and are imported only when run, so `nas --help` is fast.
Library errors (NasError) become one red line and an exit code; a traceback only with --debug.
"""

from __future__ import annotations

import importlib
import sys

import click

from nas import __version__

# name -> (module, attribute, one-line help). The help text is here so listing needs no import.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "presets": ("nas.cli.arch", "presets", "List the published reference networks."),
    "spaces": ("nas.cli.arch", "spaces", "List the search spaces found."),
    "space": ("nas.cli.arch", "space", "Inspect a search space."),
    "arch": ("nas.cli.arch", "arch", "Inspect an architecture (preset or config JSON)."),
    "devices": ("nas.cli.latency", "devices", "List the latency tables found, with provenance."),
    "latency": ("nas.cli.latency", "latency", "Predict, measure, check, calibrate and validate network latency."),
    "profile": ("nas.cli.latency", "profile", "Measure a latency table for this machine (or export blocks)."),
    "tables": ("nas.cli.tables", "tables", "Fit estimated tables (iPhone 12) from published latencies."),
    "proxy": ("nas.cli.proxy", "proxy", "Score an architecture with a proxy of its accuracy."),
    "search": ("nas.cli.search", "search", "Search architectures under a latency budget."),
    "report": ("nas.cli.report", "report", "Write the Pareto report of a search run."),
    "export": ("nas.cli.export", "export", "Export a chosen architecture (json, onnx, coreml, torchscript)."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, _, help_) in COMMANDS.items()])


EXIT_CODES = """\b
Exit codes:
  0    success
  1    the work failed: nothing was scored, a file or storage cannot be read, an export check failed
  2    usage error: an unknown name, a malformed or out-of-range value, a folder that holds another run
  130  stopped by Ctrl-C (143: by SIGTERM); what was already computed is kept
Errors are one line on stderr; --debug shows the traceback."""


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="nas")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Hardware-aware architecture search for mobile vision transformers."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn errors into one line and an exit code."""
    from nas.errors import NasError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="nas", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.secho("aborted", fg="red", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        if debug:
            raise
        click.secho("interrupted (what was already computed is kept)", fg="red", err=True)
        sys.exit(130)
    except NasError as exc:
        if debug:
            raise
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence of a CLI
        if debug:
            raise
        click.secho(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
                    fg="red", err=True)
        sys.exit(1)
