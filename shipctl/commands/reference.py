"""The command reference, docs/commands.md, generated from the command tree.

    python -m shipctl.commands.reference > docs/commands.md

Every command and subcommand gets its help as ``--help`` prints it, at a fixed width, so the
page is the same on every machine; ``tests/test_docs.py`` fails when the committed page differs.
The global options are shown once, under ``shipctl`` itself, rather than under each command.
"""

import sys

COMMAND = "python -m shipctl.commands.reference > docs/commands.md"
WIDTH = 88
INHERITED = "Inherited flags:"


def _commands(command, ctx):  # noqa: ANN001, ANN202 - click's command and context
    """(context, command) for ``command`` and every command under it, depth first."""
    yield ctx, command
    names = command.list_commands(ctx) if hasattr(command, "list_commands") else []
    for name in names:
        child = command.get_command(ctx, name)
        if child is None or child.hidden:
            continue
        yield from _commands(child, child.make_context(name, [], parent=ctx,
                                                       resilient_parsing=True))


def _without_inherited(text: str) -> str:
    """The help without its "Inherited flags" section: the root's page lists them once."""
    lines = text.splitlines()
    if INHERITED not in lines:
        return text
    start = lines.index(INHERITED)
    end = start + 1
    while end < len(lines) and (not lines[end] or lines[end].startswith(" ")):
        end += 1
    # the blank line before the section goes with it
    kept = lines[: start - 1 if start and not lines[start - 1] else start] + lines[end:]
    return "\n".join(kept).rstrip() + "\n"


def anchor(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, spaces to hyphens, punctuation dropped."""
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def render() -> str:
    import typer

    from shipctl.commands.root import root_group

    root = typer.main.get_command(root_group)
    ctx = root.make_context("shipctl", [], resilient_parsing=True, terminal_width=WIDTH,
                            max_content_width=WIDTH)
    pages = []
    for command_ctx, command in _commands(root, ctx):
        title = command_ctx.command_path
        help_text = _without_inherited(command.get_help(command_ctx))
        pages.append((title, help_text))
    out = [
        "# Command reference",
        "",
        "<!-- Generated from the command tree; do not edit. Regenerate with:",
        f"     {COMMAND}",
        "-->",
        "",
        "Every command's `--help`, as printed. Every subcommand also takes the global options",
        "listed under [`shipctl`](#shipctl), before or after its name (see",
        "[conventions](conventions.md#global-options)).",
        "",
    ]
    out += [f"- [`{title}`](#{anchor(title)})" for title, _ in pages]
    for title, help_text in pages:
        out += ["", f"## {title}", "", "```text", help_text.rstrip("\n"), "```"]
    return "\n".join(out) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
