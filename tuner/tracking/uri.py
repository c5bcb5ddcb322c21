"""Tracking URIs as they may be shown: the password of `scheme://user:password@host` hidden."""

from __future__ import annotations

import re

# userinfo with a password, in a URI anywhere inside a text (an error message holds several).
# The password runs to the last "@" before a blank: SQLAlchemy reads `u:pa/ss@db` as password
# "pa/ss" (base64 passwords hold "/"), where a URI's rules would end it at the "/". A port
# (`host:5000/path@x`) is not a password.
_CREDENTIALS = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s/@:]*):(?!\d+/)\S*@")
# userinfo without a password: often a token (https://TOKEN@host).
_TOKEN = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s/@:]+@")
# a secret passed as a query parameter (?password=..., &token=...).
# Any parameter whose name holds one of these words (sslpassword, client_secret,
# X-Amz-Signature, X-Amz-Credential), and `auth` and `sig`.
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&](?:[\w.-]*(?:password|passwd|pwd|token|secret|key|signature|credential)"
    r"|auth|sig)=)[^&\s#]*", re.IGNORECASE)


def redact_uri(text: str) -> str:
    """`text` with every credential of a URI replaced by `***`: the password of
    `scheme://user:password@`, a token given as `scheme://token@`, and secret query parameters.

    >>> redact_uri("postgresql://mlflow:s3cret@db:5432/mlflow")
    'postgresql://mlflow:***@db:5432/mlflow'
    >>> redact_uri("http://t0ken@mlflow:5000 and https://db/x?user=a&password=p")
    'http://***@mlflow:5000 and https://db/x?user=a&password=***'
    """
    text = _CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)
    text = _TOKEN.sub(r"\g<scheme>***@", text)
    return _QUERY_SECRET.sub(r"\g<name>***", text)
