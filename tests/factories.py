"""Test data every test file shares: one valid EWE modifyShipment request, the envelope the
sandbox accepts, and the sandbox's digest.

    from factories import SANDBOX_DIGEST, ewe_envelope, ewe_request

``ewe_request`` is a request as a user writes it (no envelope); the body that goes on the wire
to the sandbox is ``{**ewe_envelope(), **ewe_request(ref)}``. Each call returns new dicts, so a
test may change nested fields in place. When a test's expectations depend on a field's value,
it passes that value explicitly rather than relying on the default below.
"""

from __future__ import annotations

from shipctl.ewe import MSG_TYPE, SANDBOX_PASSWORD, SANDBOX_USERNAME
from shipctl.ewe import digest as ewe_digest

# The digest every request to the sandbox carries: secret, so the conftest's audit looks for it.
SANDBOX_DIGEST = ewe_digest.compute(SANDBOX_USERNAME, MSG_TYPE, SANDBOX_PASSWORD)

# For a stand-in server's serve_forever: it checks for shutdown() this often. The default, 0.5 s,
# made every stop wait for it, half a second per test that starts one.
QUICK_STOP = {"poll_interval": 0.05}

EWE_REFERENCE = "TEST08030001"  # the seed's referenceNo


def ewe_request(ref: str = EWE_REFERENCE, **changes) -> dict:
    """One valid modifyShipment request: the seed's example (seed 004, SPEC §10) made valid —
    with a reason, one merchandise line, no ``version`` (shipctl defaults it) and no envelope.
    ``changes`` replace top-level fields (``from`` is a keyword: ``**{"from": {...}}``)."""
    data = {
        "referenceNo": ref,
        "articleId": "ABC20000000220008833",
        "reason": "Receiver moved",
        "from": {
            "name": "Dummy Duck",
            "phone": "61407000000",
            "suburb": "Greenacre",
            "state": "NSW",
            "lines": [" 457 Waterloo Road"],
            "postcode": "2190",
        },
        "to": {
            "name": "MELBOURNE DC",
            "phone": "0284886811",
            "suburb": "Moorabbin Airport",
            "state": "VIC",
            "email": "123456@gmail.com",
            "lines": ["6 Chifley Drive"],
            "postcode": "3194",
        },
        "merchandise": [
            {"sku": "NG0000X1", "goodsName": "T-shirt", "quantity": "1", "weight": 1,
             "value": 10.99},
        ],
    }
    data.update(changes)
    return data


def ewe_envelope(**changes) -> dict:
    """The envelope the sandbox accepts (its username, msgType and digest); ``changes`` replace
    or add fields, e.g. ``ewe_envelope(digest="wrong")``."""
    return {"username": SANDBOX_USERNAME, "digest": SANDBOX_DIGEST, "msgType": MSG_TYPE,
            **changes}
