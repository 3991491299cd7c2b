"""The root command: global options, the core's commands, each provider's top-level commands
(``Provider.root_commands``, e.g. EWE's ``digest``) and command group.

Only typer and the thin command modules are imported here; each command imports what it
needs when it runs, so TAB completion stays fast.
"""

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from shipctl import __version__
from shipctl.commands import auth as auth_cmd
from shipctl.commands import completions as completions_cmd
from shipctl.commands import config as config_cmd
from shipctl.commands import sandbox as sandbox_cmd
from shipctl.commands.groups import ShipctlGroup, ShipctlTyper
from shipctl.commands.options import EXIT_CODES_HELP, complete_profile
from shipctl.provider import providers


class RootGroup(ShipctlGroup):
    """The root: the core's commands, and each provider's group built only when it is used.

    typer turns every command into a click command with all its options before anything
    runs, which for the groups not used is most of an invocation's CPU (benchmarks/startup.py).
    A provider group is built when a command line, TAB completion or help reaches it; the
    root's help lists the groups from their help texts.
    """

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - click's
        super().__init__(*args, **kwargs)
        self.provider_groups = {p.name: p for p in providers() if p.commands}
        self._built: dict[str, typer.core.TyperGroup] = {}

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.provider_groups]

    def get_command(self, ctx: typer.Context, name: str):  # noqa: ANN201 - click's
        command = super().get_command(ctx, name)
        if command is None and name in self.provider_groups:
            command = self._built.get(name)
            if command is None:
                group = self.provider_groups[name].commands_hook().group
                command = self._built[name] = typer.main.get_command(group)
                command.name = name
        return command

    def format_commands(self, ctx: typer.Context, formatter) -> None:  # noqa: ANN001
        # The root's help needs only each group's one-line help: a stand-in carrying the
        # provider's declared summary gives the same line without importing its commands.
        built = self._built
        try:
            self._built = {
                name: built.get(name) or typer.core.TyperGroup(name=name, help=provider.summary)
                for name, provider in self.provider_groups.items()
            }
            super().format_commands(ctx, formatter)
        finally:
            self._built = built


root_group = ShipctlTyper(
    name="shipctl",
    cls=RootGroup,  # global options accepted after the subcommand too; help for people
    help="Shipment operations: EWE modifyShipment, Fynd status updates, Ecom Express pushes.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: see commands.groups.command_group
    add_completion=False,  # `shipctl completions SHELL` replaces typer's install flags
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class ColorChoice(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


current = None  # the Application of this invocation, for cli.run()'s error handling


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"shipctl {__version__}\n")
        raise typer.Exit()


@root_group.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            metavar="NAME",
            envvar="SHIPCTL_PROFILE",
            help="Credentials profile to use.",
            autocompletion=complete_profile,
        ),
    ] = "default",
    config: Annotated[
        Optional[Path],
        typer.Option(
            "--config",
            metavar="FILE",
            envvar="SHIPCTL_CONFIG",
            help="Config file to use instead of the per-user one.",
            dir_okay=False,
        ),
    ] = None,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            envvar="SHIPCTL_SANDBOX",
            help="Start the embedded simulator on loopback and point every client at it.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="SHIPCTL_DEBUG", help="Full tracebacks and HTTP wire logs."),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", help="Bulk runs print only failures and the summary."),
    ] = False,
    color: Annotated[
        ColorChoice,
        typer.Option(
            "--color",
            help="Colour in text output: auto (on a terminal, unless NO_COLOR is set),"
            " always or never.",
        ),
    ] = ColorChoice.auto,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    global current
    from shipctl.app import Application

    current = ctx.obj = Application(
        profile=profile, config_path=config, sandbox=sandbox, debug=debug
    )
    # read by the Output (bulk runs' per-item lines; colour decisions)
    setattr(current.out, "quiet", quiet)  # noqa: B010 - set whether or not Output declares it
    setattr(current.out, "color_choice", color.value)  # noqa: B010
    ctx.call_on_close(current.close)


root_group.add_typer(config_cmd.group, name="config")
root_group.add_typer(auth_cmd.group, name="auth")
for _provider in providers():
    _hook = _provider.root_commands_hook()
    if _hook is not None:
        _hook.register_commands(root_group)
root_group.command("sandbox")(sandbox_cmd.sandbox)
root_group.command("completions")(completions_cmd.completions)
