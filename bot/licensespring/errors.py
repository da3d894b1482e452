"""The one exception the License API client raises, with a human sentence for every code."""

from __future__ import annotations

# Codes the client itself produces when there is no usable answer from LicenseSpring.
TIMEOUT = "timeout"
CONNECTION_ERROR = "connection_error"
UNEXPECTED_RESPONSE = "unexpected_response"
RATE_LIMITED = "rate_limited"
NOT_CONFIGURED = "not_configured"
OAUTH_FAILED = "oauth_failed"

# One sentence per code. `{product}` and `{customer}` name the lookup where the caller knows
# it (a Slack reply fills them with code spans); elsewhere they read "that product" and so on.
_HINTS: dict[str, str] = {
    # customer_license_users
    "unknown_product": "LicenseSpring has no product {product}. Check the product short code.",
    "missing_headers": "The request lacked required headers. This is a bot bug; report it.",
    "invalid_product_auth_method": (
        "{product_cap} is not a user-based product, so it has no license users. "
        "Try a product whose licenses are assigned to users."
    ),
    "customer_does_not_exist": (
        "No customer {customer} in {product}. "
        "Check the spelling, or look the customer up in another product."
    ),
    "customer_not_found": (
        "No customer {customer} in {product} that these credentials may see. "
        "Check the spelling, or that the API key may see this customer."
    ),
    # authorization
    "date_header_diff": "The request's Date was rejected as stale. Check the server clock (NTP).",
    "authorization_invalid_headers": "The Authorization header was rejected. Check the API key.",
    "hmac_required": "LicenseSpring requires HMAC signing for this key. Set the shared key.",
    "signature_mismatch": (
        "LicenseSpring rejected the signature. Check LICENSESPRING_SHARED_KEY matches the API key."
    ),
    "authorization_missing_params": "The Authorization header is incomplete. Check the API key.",
    "invalid_api_key": "LicenseSpring does not know this API key. Check LICENSESPRING_API_KEY.",
    "revoked_api_key": "This API key was revoked. Create a new one in the LicenseSpring portal.",
    "read_only_api_key": "This API key is read-only for this operation. Use another key.",
    "api_key_product_not_allowed": (
        "This API key may not access that product. Allow it in the LicenseSpring portal."
    ),
    "oauth_token_expired": "The OAuth token expired and could not be refreshed. Try again.",
    "oauth_token_malformed": "LicenseSpring rejected the OAuth token. Check the OAuth client.",
    # general
    "not_found": "LicenseSpring answered 'not found'. Check LICENSESPRING_API_URL.",
    "validation_error": "LicenseSpring rejected the parameters. Check product and e-mail.",
    "missing_parameters": "A required parameter was missing. Give both product and e-mail.",
    "archived_product": "That product is archived in LicenseSpring.",
    "disabled_product": "That product is disabled in LicenseSpring.",
    "internal_error": "LicenseSpring had an internal error. Try again in a minute.",
    # the client's own
    TIMEOUT: "LicenseSpring did not answer in time. Try again in a minute.",
    CONNECTION_ERROR: "Could not reach LicenseSpring. Try again in a minute.",
    UNEXPECTED_RESPONSE: "LicenseSpring sent an answer the bot could not read. Try again later.",
    RATE_LIMITED: "LicenseSpring is rate limiting requests. Try again in a minute.",
    NOT_CONFIGURED: (
        "No LicenseSpring credentials are configured. Set LICENSESPRING_API_KEY and "
        "LICENSESPRING_SHARED_KEY (or the OAuth client), or run `python -m bot sandbox`."
    ),
    OAUTH_FAILED: (
        "LicenseSpring's OAuth server refused the client. Check LICENSESPRING_CLIENT_ID "
        "and LICENSESPRING_CLIENT_SECRET."
    ),
}

DOCUMENTED_CODES: frozenset[str] = frozenset(
    code
    for code in _HINTS
    if code
    not in {
        TIMEOUT,
        CONNECTION_ERROR,
        UNEXPECTED_RESPONSE,
        RATE_LIMITED,
        NOT_CONFIGURED,
        OAUTH_FAILED,
    }
)

# Failures worth retrying later: the service, not the request, was the problem.
TRANSIENT_CODES: frozenset[str] = frozenset(
    {TIMEOUT, CONNECTION_ERROR, UNEXPECTED_RESPONSE, RATE_LIMITED, "internal_error"}
)


def hint_for(
    code: str, *, product: str = "that product", customer: str = "with that e-mail"
) -> str | None:
    """The sentence for `code`, naming the product and customer as given; None if unknown."""
    template = _HINTS.get(code)
    if template is None:
        return None
    return template.format(
        product=product, product_cap=product[:1].upper() + product[1:], customer=customer
    )


class LicenseApiError(Exception):
    """A lookup failed. `status` is the HTTP status (0 when there was no answer)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def hint(self) -> str:
        """A short sentence saying what happened and what to do."""
        known = hint_for(self.code)
        if known is not None:
            return known
        return f"LicenseSpring answered {self.code}: {self.message}"

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES or self.status == 429 or self.status >= 500
