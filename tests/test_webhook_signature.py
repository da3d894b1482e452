"""The webhook signature check (pure), agreeing with the official `licensespring` verifier."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from licensespring.webhook.error import SignatureVerificationError
from licensespring.webhook.signature import WebhookSignature

from bot.webhooks.signature import SignatureError, expected_signature, parse_header, sign, verify

# The reference's test vector (checked with the SDK's `verify_header`).
VECTOR_SECRET = "whsec_test"
VECTOR_BODY = b'{"id":"e1"}'
VECTOR_HEADER = "t=1700000000,v1=6a85cb117c993612a34c72b4cfb5a16baed25a80d26e298ce0e6671320fd07c8"
VECTOR_T = 1_700_000_000


def test_the_reference_vector_verifies_at_its_time() -> None:
    assert verify(VECTOR_HEADER, VECTOR_BODY, VECTOR_SECRET, now=VECTOR_T + 10) == VECTOR_T
    assert sign(VECTOR_SECRET, VECTOR_BODY, VECTOR_T) == VECTOR_HEADER


def test_the_vector_is_stale_today_and_wrong_with_another_secret_or_body() -> None:
    with pytest.raises(SignatureError) as stale:
        verify(VECTOR_HEADER, VECTOR_BODY, VECTOR_SECRET, now=VECTOR_T + 301)
    assert stale.value.reason == "stale"
    with pytest.raises(SignatureError) as wrong:
        verify(VECTOR_HEADER, VECTOR_BODY, "whsec_other", now=VECTOR_T)
    assert wrong.value.reason == "mismatch"
    with pytest.raises(SignatureError):
        verify(VECTOR_HEADER, b'{"id": "e1"}', VECTOR_SECRET, now=VECTOR_T)  # re-serialised


def test_a_future_timestamp_beyond_the_tolerance_is_refused_too() -> None:
    header = sign("s", b"{}", VECTOR_T + 301)
    with pytest.raises(SignatureError, match="stale"):
        verify(header, b"{}", "s", now=VECTOR_T)
    assert verify(sign("s", b"{}", VECTOR_T + 299), b"{}", "s", now=VECTOR_T)


def test_any_v1_may_match_during_a_secret_rollover() -> None:
    new = expected_signature("new-secret", VECTOR_T, VECTOR_BODY)
    old = expected_signature("old-secret", VECTOR_T, VECTOR_BODY)
    header = f"t={VECTOR_T},v1={new},v1={old}"
    assert verify(header, VECTOR_BODY, "old-secret", now=VECTOR_T)
    assert verify(header, VECTOR_BODY, "new-secret", now=VECTOR_T)
    assert verify(f"t={VECTOR_T},v0=abc,v1={old}", VECTOR_BODY, "old-secret", now=VECTOR_T)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        ("v1=abc", "malformed"),
        (f"t={VECTOR_T}", "malformed"),
        ("t=abc,v1=00", "malformed"),
        ("t=-5,v1=00", "malformed"),
        ("t=1,t=2,v1=00", "malformed"),
        ("garbage", "malformed"),
        (f"t={VECTOR_T}," + ",".join(["v1=00"] * 9), "malformed"),
        (f"t={VECTOR_T},v1=" + "0" * 64, "mismatch"),
        ("t=" + "9" * 5000 + ",v1=" + "0" * 64, "malformed"),  # int() refuses 4,300+ digits
        ("t=" + "1" * 13 + ",v1=" + "0" * 64, "malformed"),
        (f"t={VECTOR_T},v1=" + "0" * 64 + ",x=" + "y" * 2000, "malformed"),
        (f"t={VECTOR_T},v1=" + "é" * 64, "malformed"),
        ("t=١٢٣,v1=00", "malformed"),  # Arabic-Indic digits: isdigit() but not ASCII
        (f"t={VECTOR_T},,v1=00", "malformed"),
        (f"t={VECTOR_T},v1=", "mismatch"),
    ],
)
def test_bad_headers_are_refused_with_a_reason(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError) as refused:
        verify(header, VECTOR_BODY, VECTOR_SECRET, now=VECTOR_T)
    assert refused.value.reason == reason


def test_parse_header_reads_the_timestamp_and_every_v1() -> None:
    parsed = parse_header("t=12,v1=AA,v0=zz,v1=bb")
    assert parsed.timestamp == 12
    assert parsed.signatures == ("aa", "bb")


def _oracle(body: bytes, header: str, secret: str) -> bool:
    try:
        return bool(WebhookSignature.verify_header(body.decode(), header, secret, tolerance=None))
    except SignatureVerificationError:
        return False


def _ours(body: bytes, header: str, secret: str) -> bool:
    try:
        parsed = parse_header(header)
        verify(header, body, secret, now=parsed.timestamp)
    except SignatureError:
        return False
    return True


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    body=_text,
    secret=st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s),
    signer=st.sampled_from(["same", "other", "none"]),
    timestamp=st.integers(min_value=0, max_value=4_000_000_000),
    extra=st.booleans(),
)
def test_agrees_with_the_official_verifier(
    body: str, secret: str, signer: str, timestamp: int, extra: bool
) -> None:
    """Same verdict as `licensespring.webhook.signature.WebhookSignature.verify_header`
    (its tolerance is left out here: it refuses only old timestamps, we refuse both ways)."""
    raw = body.encode()
    signatures = []
    if signer == "same":
        signatures.append(expected_signature(secret, timestamp, raw))
    elif signer == "other":
        signatures.append(expected_signature(secret + "x", timestamp, raw))
    if extra:
        signatures.append(expected_signature("rolled-" + secret, timestamp, raw))
    header = ",".join([f"t={timestamp}", *(f"v1={s}" for s in signatures)])
    assert _ours(raw, header, secret) == _oracle(raw, header, secret)
    assert _ours(raw, header, secret) == (signer == "same")


def test_agrees_with_the_official_verifier_on_the_vector_and_on_staleness() -> None:
    assert WebhookSignature.verify_header(VECTOR_BODY.decode(), VECTOR_HEADER, VECTOR_SECRET)
    with pytest.raises(SignatureVerificationError):
        WebhookSignature.verify_header(
            VECTOR_BODY.decode(), VECTOR_HEADER, VECTOR_SECRET, tolerance=300
        )
    with pytest.raises(SignatureError, match="stale"):
        verify(VECTOR_HEADER, VECTOR_BODY, VECTOR_SECRET, now=VECTOR_T + 10_000)
