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


# The template store (``store.py``). Every name shares the hash tag {tpl}, so the scripts
# that change several of them at once also run on a Redis Cluster.
TEMPLATES = f"{PREFIX}:{{tpl}}"


def templates_current() -> str:
    """A hash: template name -> the version every process serves ("" once deleted)."""
    return f"{TEMPLATES}:current"


def templates_seeded() -> str:
    """A hash: template name -> the version of it a templates folder last brought."""
    return f"{TEMPLATES}:seeded"


def template_version(name: str, version: str) -> str:
    """A hash: ``meta`` (JSON: when, who, lint, files) and ``f:PATH`` -> each file's bytes."""
    return f"{TEMPLATES}:v:{name}:{version}"


def template_history(name: str) -> str:
    """A sorted set: the kept versions of a template, by when they were stored."""
    return f"{TEMPLATES}:history:{name}"


def events() -> str:
    """A stream every process follows: template changes and image purges."""
    return f"{TEMPLATES}:events"
