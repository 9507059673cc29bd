"""The service's names in Redis: every key it reads or writes is made here."""

PREFIX = "mms"


def image(cache_key: str) -> str:
    """A rendered image (L2 cache)."""
    return f"{PREFIX}:img:{cache_key}"


def render_lock(cache_key: str) -> str:
    """Held by the one process that renders a missing image."""
    return f"{PREFIX}:lock:{cache_key}"


def live(kind: str, key: str) -> str:
    """A live value: ``live("stock", "NB-YIRG-250")``."""
    return f"{PREFIX}:{kind}:{key}"
