import base64
from email.utils import parsedate_to_datetime

from bot.licensespring.auth import HmacAuth, hmac_authorization, http_date, sign

VECTOR_KEY = "kw4qSnpSwXzgiv5yxYpZZmFEd9QAeiKTQ6OuyMja"
VECTOR_DATE = "Tue, 07 Jun 2011 20:51:35 GMT"
VECTOR_SIGNATURE = "UDysfR6MndUZReo07Y9r+vErn8vSxrnQ5ulit18iJ/Q="


def test_signature_matches_documented_test_vector() -> None:
    assert sign(VECTOR_KEY, VECTOR_DATE) == VECTOR_SIGNATURE


def test_authorization_header_shape() -> None:
    header = hmac_authorization("my-api-key", VECTOR_KEY, VECTOR_DATE)
    assert header == (
        f'algorithm="hmac-sha256",headers="date",signature="{VECTOR_SIGNATURE}",apikey="my-api-key"'
    )


def test_http_date_is_rfc7231_gmt() -> None:
    assert http_date(1307479895) == VECTOR_DATE
    assert parsedate_to_datetime(http_date()).tzname() == "UTC"


async def test_hmac_auth_signs_each_call_with_its_own_date(monkeypatch: object) -> None:
    auth = HmacAuth("key", "shared")
    headers = await auth.headers()
    signature = headers["Authorization"].split('signature="')[1].split('"')[0]
    assert base64.b64decode(signature)
    assert signature == sign("shared", headers["Date"])
