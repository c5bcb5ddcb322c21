"""Tracking URIs as they may be shown: the password of `scheme://user:password@host` hidden."""

from __future__ import annotations

import re

# userinfo with a password, in a URI anywhere inside a text (an error message holds several).
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s/@:]*):[^\s/]*@")
# userinfo without a password: often a token (https://TOKEN@host).
_TOKEN = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s/@:]+@")
# a secret passed as a query parameter (?password=..., &token=...).
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&](?:password|passwd|pwd|token|access_token|api_key|apikey|secret|key)=)"
    r"[^&\s#]*", re.IGNORECASE)


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
