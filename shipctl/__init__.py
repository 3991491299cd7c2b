"""shipctl — shipment operations from the command line."""

__version__ = "0.1.0"

# The environment variable that turns an invocation into a TAB completion (typer/click): read
# by cli.run before typer is imported, and written into the completion scripts.
COMPLETE_VAR = "_SHIPCTL_COMPLETE"
