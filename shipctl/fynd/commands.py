"""`shipctl fynd …`: transition, apply, states, reasons, show, auth."""

import inspect
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from shipctl.app import get_app
from shipctl.commands import bulk
from shipctl.commands.groups import command_group
from shipctl.commands.options import (
    EXIT_CODES_HELP,
    CaBundleOpt,
    DryRunOpt,
    OutputFormat,
    OutputOpt,
    ProfileOpt,
    RetriesOpt,
    ShowSecretsOpt,
    TimeoutOpt,
)
from shipctl.fynd import PROVIDER

group = command_group(PROVIDER.summary)


def complete_state(incomplete: str) -> list[tuple[str, str]]:
    """Fynd states with their meanings (zsh, fish and PowerShell show them beside the name).
    shipctl.fynd.states is standard library only: a TAB press stays cheap."""
    try:
        from shipctl.fynd.states import STATES

        return [(name, meaning) for name, meaning in STATES.items()
                if name.startswith(incomplete or "")]
    except Exception:  # noqa: BLE001 - completion must never break the shell's TAB
        return []


ShipmentIdArg = Annotated[
    str, typer.Argument(metavar="SHIPMENT_ID", help="The shipment.", show_default=False)
]
# The options of every command that sends a request to Fynd, after its own, in this order
# (name, annotation, default); -o comes last.
_CONNECTION = (("profile", ProfileOpt, None), ("timeout", TimeoutOpt, 30.0),
               ("retries", RetriesOpt, 3), ("ca_bundle", CaBundleOpt, None))
_OUTPUT = ("output", OutputOpt, OutputFormat.text)

ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Send a state shipctl does not know (Fynd's states are per"
                 " company)."),
]


def _transition(ctx: typer.Context, **values: Any) -> None:
    """Move shipments to a state: build one updateShipmentStatus request from flags and send it.

    Prints each shipment's result: ok or FAILED, the state reached (bag_invoiced →
    dp_assigned when Fynd moved on by itself) and Fynd's message; a partial move shows both
    sides (5 → bag_confirmed, the rest → bag_not_confirmed). Fynd reports failures inside
    an HTTP 200 too; any failed shipment makes the exit code 1.

    A move that cancels units (to bag_not_confirmed or cancelled_*, or the rest of a partial
    move sent there) asks first when standard input is a terminal: "Cancel 5 units of shipment
    800001? [y/N]". Only y or yes sends it; declining sends nothing and exits 0. Nothing is
    asked with --yes or --dry-run, nor from a script, cron or a pipe.

    \b
    Examples:
      $ shipctl fynd transition 12345383008471878029 --to bag_confirmed
      $ shipctl fynd transition 1234538 --to bag_confirmed --line 1:5 --exclude-next-state null
      $ shipctl fynd transition 1234564 --to bag_not_confirmed --reason "1:Product Not Available"
      $ shipctl fynd transition 1656338 --to bag_invoiced --invoice-id 123 --dry-run -o json
    """
    from shipctl.fynd.flags import flags_of
    from shipctl.fynd.transition import run

    app = get_app(ctx)
    app.use(profile=values["profile"], json_mode=values["output"] is not OutputFormat.text,
            show_secrets=values["show_secrets"])
    raise typer.Exit(run(app, flags_of(values), timeout=values["timeout"],
                         retries=values["retries"], ca_bundle=values["ca_bundle"],
                         dry_run=values["dry_run"]))


def _signature(options: Any, *shared: tuple[str, Any, Any]) -> inspect.Signature:
    """The Typer signature of a command whose flags ``options`` declares (``fynd.flags.Option``
    each), followed by the ``shared`` options (name, annotation, default) of every command."""
    plain = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter("ctx", plain, annotation=typer.Context)]
    for option in options:
        kind: Any = list[option.kind] if option.many else option.kind
        if not (option.required or option.kind is bool):
            kind = Optional[kind]
        settings: dict[str, Any] = {"metavar": option.metavar, "help": option.help}
        if option.states:
            settings["autocompletion"] = complete_state
        if option.required:
            settings["show_default"] = False
        if option.kind is Path:
            settings["dir_okay"] = False
        info = (typer.Option(*option.decls, **settings) if option.decls else
                typer.Argument(**settings))
        default = inspect.Parameter.empty if option.required else option.default
        parameters.append(inspect.Parameter(option.name, plain, default=default,
                                            annotation=Annotated[kind, info]))
    return inspect.Signature(parameters + _parameters(shared), return_annotation=None)


def _parameters(shared: tuple[tuple[str, Any, Any], ...]) -> list[inspect.Parameter]:
    plain = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return [inspect.Parameter(name, plain, default=default, annotation=annotation)
            for name, annotation, default in shared]


def _single_request(command: Any) -> Any:
    """A command that reads one thing from Fynd (reasons, show): its own parameters, then
    the options every request takes (``_CONNECTION`` and -o), which reach it as keywords
    for ``_requesting``."""
    own = [parameter for parameter in inspect.signature(command).parameters.values()
           if parameter.kind is not inspect.Parameter.VAR_KEYWORD]
    command.__signature__ = inspect.Signature(own + _parameters((*_CONNECTION, _OUTPUT)),
                                              return_annotation=None)
    return command


def _requesting(ctx: typer.Context, request: dict[str, Any]) -> Any:
    """The application set up by ``request``'s --profile and -o; what is left of ``request``
    (timeout, retries, ca_bundle) is for the call."""
    app = get_app(ctx)
    app.use(profile=request.pop("profile"),
            json_mode=request.pop("output") is not OutputFormat.text)
    return app


def _declared_transition() -> Any:
    """`fynd transition`, its flags read from their one declaration (``fynd.flags.OPTIONS``)."""
    from shipctl.fynd.flags import OPTIONS

    _transition.__signature__ = _signature(  # type: ignore[attr-defined]
        OPTIONS, *_CONNECTION, ("dry_run", DryRunOpt, False),
        ("show_secrets", ShowSecretsOpt, False), _OUTPUT,
    )
    return group.command("transition", epilog=EXIT_CODES_HELP)(_transition)


transition = _declared_transition()


@group.command(cls=bulk.BulkCommand, epilog=EXIT_CODES_HELP)
@bulk.flags(rate_default=bulk.UNLIMITED)
def apply(
    ctx: typer.Context,
    *,
    run: bulk.Bulk,
    force: ForceOpt = False,
    resend_unknown: Annotated[
        bool,
        typer.Option("--resend-unknown", help="Send a body whose outcome an earlier run with"
                     " this --journal left unknown without reading its shipments first (by"
                     " default it is verified, and not sent while that cannot tell)."),
    ] = False,
) -> None:
    """Send prepared updateShipmentStatus bodies from YAML/JSON/JSONL files, one or thousands.

    Each item is a request body, {"statuses": [...]} plus the optional top-level booleans,
    sent as one request. Text pasted from Fynd's docs is read leniently (// comments,
    trailing commas), with a warning saying what was forgiven. Every body is checked against
    the request model first; an invalid one is not sent, and neither is a later body naming
    one of its shipments (blocked). One OAuth token serves the whole run.

    A transition moves units, so it is never sent twice blindly: when a request may have
    reached Fynd and no complete answer came (a timeout, a reset, a 502/504), or the answer
    leaves a shipment out, each shipment is read back (Fynd's shipment details). Applied: it
    succeeded; nothing moved: it is sent again; cannot tell: "unknown" (exit 1). With
    --journal each shipment's move is kept, so a re-run sends only what did not succeed and
    verifies what was unknown before sending it.

    \b
    Examples:
      $ shipctl fynd apply sample_payloads/fynd/04-partial-confirmation.json --dry-run
      $ shipctl fynd apply transitions.jsonl --jobs 8 --journal nightly.db --report nightly.csv
      $ shipctl fynd apply sample_payloads/fynd/ --dry-run
    """
    from shipctl import runner
    from shipctl.fynd.apply import UpdateShipmentStatus

    options = run.options(resend_unknown=resend_unknown)
    raise typer.Exit(runner.run(run.app, UpdateShipmentStatus(force=force), options))


@group.command()
def states(ctx: typer.Context, output: OutputOpt = OutputFormat.text) -> None:
    """List the shipment states shipctl knows, with what each means (offline).

    Fynd's real transitions are per company and role; NEXT shows the illustrative map of
    Fynd's older docs (the sandbox follows it).

    \b
    Examples:
      $ shipctl fynd states
      $ shipctl fynd states -o json
    """
    from shipctl.fynd.states import AUTOMATIC, NEXT, STATES

    app = get_app(ctx)
    app.use(json_mode=output is not OutputFormat.text)
    if app.out.json_mode:
        app.out.write_json({"states": [
            {"name": name, "meaning": meaning, "next": list(NEXT.get(name, ())),
             "moves_on_to": AUTOMATIC.get(name)}
            for name, meaning in STATES.items()]})
        return
    app.out.table(["STATE", "MEANING", "NEXT"],
                  [[name, meaning, ", ".join(NEXT.get(name, ()))]
                   for name, meaning in STATES.items()])


@group.command()
@_single_request
def reasons(
    ctx: typer.Context,
    shipment_id: ShipmentIdArg,
    bag: Annotated[
        str, typer.Option("--bag", metavar="BAG_ID", help="The bag.", show_default=False)
    ],
    state: Annotated[
        str,
        typer.Option("--state", metavar="STATE", help="The state the bag would move to: one"
                     " that `shipctl fynd states` lists.",
                     autocompletion=complete_state, show_default=False),
    ],
    **request: Any,
) -> None:
    """List the reasons Fynd allows for moving a bag to a state (the ids --reason takes).

    \b
    Examples:
      $ shipctl fynd reasons 12345383008471878029 --bag 1 --state bag_not_confirmed
      $ shipctl fynd reasons 12345383008471878029 --bag 1 --state cancelled_customer -o json
    """
    from shipctl.fynd.reasons import list_reasons

    app = _requesting(ctx, request)
    raise typer.Exit(list_reasons(app, shipment_id, bag, state, **request))


@group.command()
@_single_request
def show(ctx: typer.Context, shipment_id: ShipmentIdArg, **request: Any) -> None:
    """Show a shipment as Fynd has it now: its bags, lines, quantities and states.

    Read from Fynd's shipment details (getShipmentById). Check it before building a partial
    transition, or after one whose answer was lost. Exit 1 when Fynd answers an error or does
    not know the shipment.

    \b
    Examples:
      $ shipctl fynd show 12345383008471878029
      $ shipctl fynd show 12345383008471878029 -o json
    """
    from shipctl.fynd.show import show as show_shipment

    app = _requesting(ctx, request)
    raise typer.Exit(show_shipment(app, shipment_id, **request))


@group.command()
def auth(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    timeout: TimeoutOpt = 30.0,
    ca_bundle: CaBundleOpt = None,
    show_secrets: ShowSecretsOpt = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Fetch an access token with the profile's client credentials: are they right?

    Reports success and when the token expires (the token itself masked); the token is
    cached for the next commands (not under --sandbox). Exit 2 when Fynd refuses the
    credentials.

    \b
    Examples:
      $ shipctl fynd auth
      $ shipctl fynd auth --profile staging -o json
    """
    from shipctl.fynd.token_info import check_auth

    app = get_app(ctx)
    app.use(profile=profile, json_mode=output is not OutputFormat.text, show_secrets=show_secrets)
    raise typer.Exit(check_auth(app, timeout=timeout, ca_bundle=ca_bundle))
