"""Every hook a provider declares is a module of the shape its Protocol in shipctl.provider
names, and EWE's digest reaches the root through its own registration."""

from __future__ import annotations

import inspect

import pytest

from shipctl import provider

DECLARED = [(p, field, getattr(p, field)) for p in provider.providers()
            for field in provider.HOOKS if getattr(p, field)]


@pytest.mark.parametrize(("declared", "field", "module"), DECLARED,
                         ids=[f"{p.name}.{field}" for p, field, _ in DECLARED])
def test_each_declared_hook_has_its_protocols_shape(declared, field, module):
    protocol = provider.HOOKS[field]
    hook = getattr(declared, f"{field}_hook")()
    assert isinstance(hook, protocol), f"{module} is not a {protocol.__name__}"
    for attribute, expected in vars(protocol).items():
        if inspect.isfunction(expected) and not attribute.startswith("_"):
            got = inspect.signature(getattr(hook, attribute))
            wanted = list(inspect.signature(expected).parameters)[1:]  # without self
            assert list(got.parameters) == wanted, f"{module}.{attribute}{got}"


def test_every_kind_of_hook_is_declared_by_some_provider():
    assert {field for _, field, _ in DECLARED} == set(provider.HOOKS)


def test_digest_is_ewe_s_root_command():
    import typer.main

    from shipctl.commands.root import root_group

    ewe = next(p for p in provider.providers() if p.name == "ewe")
    assert ewe.root_commands == "shipctl.ewe.digest_command"
    root = typer.main.get_command(root_group)
    assert root.list_commands(None)[0] == "digest"
    assert root.get_command(None, "digest").callback.__module__ == "shipctl.ewe.digest_command"
