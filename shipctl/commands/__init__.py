"""Thin command modules: parse options, call the core, map the outcome to an exit code.

Modules that declare commands do not use ``from __future__ import annotations``: typer reads
every option's annotation when the command is built, and a string one costs an eval each.
"""
