"""`shipctl ewe template`: every field, a rule on each line, and a skeleton that validates once
its placeholders are filled in."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
import yaml

from shipctl.ewe.models import Address, Merchandise, ModifyShipment, check
from shipctl.ewe.template import render

ENVELOPE = {"username", "digest", "msgType"}


def keys_of(model) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


@pytest.fixture(params=["yaml", "json"])
def skeleton(request) -> dict:
    text = render(request.param)
    return yaml.safe_load(text) if request.param == "yaml" else json.loads(text)


def test_every_field_is_there_and_no_envelope(skeleton):
    assert set(skeleton) == keys_of(ModifyShipment) - ENVELOPE
    for side in ("from", "to"):
        assert set(skeleton[side]) == keys_of(Address)
    assert len(skeleton["merchandise"]) == 1
    assert set(skeleton["merchandise"][0]) == keys_of(Merchandise)
    assert len(keys_of(Merchandise)) == 12


def test_yaml_and_json_agree():
    assert yaml.safe_load(render("yaml")) == json.loads(render("json"))


def test_yaml_has_a_rule_comment_on_every_field_line():
    text = render("yaml")
    header = [line for line in text.splitlines() if line.startswith("#")]
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert any("username, digest and msgType" in line and "profile" in line for line in header)
    for line in body:
        if line.strip() == '- ""':  # the placeholder address line under `lines:`
            continue
        assert "  # " in line, line
        key, _, comment = line.partition("#")
        assert comment.strip().split(":")[0].split(",")[0].split(";")[0] in (
            "required", "optional"), line
    assert 'name: ""' in text and "# required, at most 40 characters" in text
    assert "NSW, VIC, QLD, SA, WA, TAS, NT or ACT" in text


def fill_required(document: dict) -> dict:
    data = copy.deepcopy(document)
    data.update(referenceNo="TEST08030001", reason="Receiver moved")
    data["from"].update(name="Dummy Duck", lines=["457 Waterloo Road"], suburb="Greenacre",
                        state="NSW", postcode="2190", phone="0491-570-156")
    data["to"].update(name="MELBOURNE DC", lines=["6 Chifley Drive"], suburb="Moorabbin Airport",
                      state="VIC", postcode="3194")
    return data


def test_filling_the_required_placeholders_gives_a_valid_request(skeleton):
    checked = check(fill_required(skeleton))
    assert checked.problems == []
    # what was left "" is not sent
    assert "articleId" not in checked.request
    assert set(checked.request["to"]) == {"name", "lines", "suburb", "state", "postcode"}
    assert "merchandise" not in checked.request
    assert checked.request["version"] == "1.6"


def test_filling_every_placeholder_sends_every_field(skeleton):
    data = fill_required(skeleton)
    data["articleId"] = "ABC20000000220008833"
    data["to"].update(phone="(03) 7010 4321", email="dc@example.com")
    data["from"]["email"] = "duck@example.com"
    data["merchandise"][0].update(
        sku="NG0000X1", goodsName="T-shirt", goodsNameCn="T恤", barcode="9999999999",
        description="garment", country_of_origin="AU", quantity="1", value="10.99",
        length="30", width="20", height="2", weight="0.3")
    checked = check(data)
    assert checked.problems == []
    assert set(checked.request) == keys_of(ModifyShipment) - ENVELOPE
    assert checked.request["merchandise"][0]["quantity"] == 1
    assert checked.request["merchandise"][0]["weight"] == Decimal("0.3")  # exact digits


def test_the_unfilled_template_is_not_valid(skeleton):
    fields = {p.field for p in check(skeleton).problems}
    assert {"referenceNo", "reason", "from.name", "from.lines.0", "from.phone", "to.postcode",
            "to.state"} <= fields


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        render("toml")


def test_cli_prints_the_template(cli):
    result = cli("ewe", "template")
    assert result.code == 0
    assert result.out == render("yaml")
    result = cli("ewe", "template", "--format", "json")
    assert result.code == 0
    assert json.loads(result.out) == json.loads(render("json"))
    assert cli("ewe", "template", "--format", "xml").code == 2
