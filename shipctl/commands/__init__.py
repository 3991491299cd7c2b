"""Thin command modules: parse options, call the core, map the outcome to an exit code."""
