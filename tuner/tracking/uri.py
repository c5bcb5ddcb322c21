"""Tracking URIs as they may be shown: the password of `scheme://user:password@host` hidden."""

from __future__ import annotations

import re

# userinfo with a password, in a URI anywhere inside a text (an error message holds several).
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s/@:]*):[^\s/]*@")


def redact_uri(text: str) -> str:
    """`text` with the password of every `scheme://user:password@` replaced by `***`.

    >>> redact_uri("postgresql://mlflow:s3cret@db:5432/mlflow")
    'postgresql://mlflow:***@db:5432/mlflow'
    """
    return _CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)
