"""`shipctl completions SHELL`: print the shell completion script (README, Completions)."""

import sys
from enum import Enum
from typing import Annotated

import typer

from shipctl import COMPLETE_VAR

PROG = "shipctl"


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"


def script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    text = get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell)
    return text.strip() + "\n"


def completions(
    shell: Annotated[Shell, typer.Argument(help="bash, zsh, fish or powershell.")],
) -> None:
    """Print the completion script for SHELL (install it as the README says).

    \b
    Examples:
      $ shipctl completions bash > ~/.local/share/bash-completion/completions/shipctl
      $ shipctl completions zsh > "${fpath[1]}/_shipctl"
    """
    sys.stdout.write(script(shell.value))
