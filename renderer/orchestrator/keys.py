"""The campaigns' names in Redis: every key the orchestrator reads or writes is made here.

A campaign's own keys share the hash tag ``{campaign-id}`` (``CampaignKeys``), so that the
Lua scripts that touch several of them run on Redis Cluster too.
"""

PREFIX = "mms"
ACTIVE_CAMPAIGNS = f"{PREFIX}:campaigns"  # campaigns with work left
ALL_CAMPAIGNS = f"{PREFIX}:campaigns:all"
SUPPRESSED = f"{PREFIX}:suppressed"  # keyed hashes of the numbers that said STOP
SECRETS = f"{PREFIX}:keys"  # the phone-hash and link-signing keys (keyring.py)
TEST_SENDS = "!test"  # the owner of a studio test message's receipts (never a campaign id)


def message_owner(sid: str) -> str:
    """The provider's message id -> ``campaign|recipient``, for delivery receipts. It shares
    the hash tag ``{sid}`` with ``held_receipts``: one Lua script reads and writes both."""
    return f"{PREFIX}:sid:{{{sid}}}"


def held_receipts(sid: str) -> str:
    """Delivery receipts that arrived before the worker recorded ``sid`` (a list, with a TTL)."""
    return f"{PREFIX}:sid:{{{sid}}}:held"


def test_send(sid: str) -> str:
    """A test message sent from the studio: who, where, the provider's answer and every
    delivery receipt (a hash, kept a week). Its receipts find it through ``message_owner``."""
    return f"{PREFIX}:test-send:{{{sid}}}"


def test_send_receipts(sid: str) -> str:
    """A test message's delivery receipts as they arrived (a list, kept with it)."""
    return f"{PREFIX}:test-send:{{{sid}}}:receipts"


def inbound_seen(message_id: str) -> str:
    """An inbound message already handled (de-duplication by the provider's message id)."""
    return f"{PREFIX}:inbound:{message_id}"


def frequency(recipient: str) -> str:
    """A recipient's recent sends, across campaigns, for the frequency cap."""
    return f"{PREFIX}:frequency:{recipient}"


def sender_rate(sender: str) -> str:
    """A sender number's recent sends, for its messages-per-second limit."""
    return f"{PREFIX}:rate:{sender}"


def image_link(code: str) -> str:
    """A fallback SMS's short link to a recipient's image."""
    return f"{PREFIX}:image-link:{code}"


class CampaignKeys:
    """One campaign's keys, all in the hash slot of ``{campaign-id}``."""

    def __init__(self, campaign_id: str):
        self.tag = f"{PREFIX}:{{{campaign_id}}}"
        self.definition = f"{self.tag}:definition"
        self.jobs = f"{self.tag}:jobs"
        self.deferred = f"{self.tag}:deferred"
        self.counts = f"{self.tag}:counts"
        self.rate = f"{self.tag}:rate"
        self.row_errors = f"{self.tag}:row-errors"
        self.ambiguous = f"{self.tag}:ambiguous"
        self.clicks = f"{self.tag}:clicks"
        self.failed = f"{self.tag}:failed"  # recipients in state failed (for retry --failed)
        self.control = f"{self.tag}:control"  # running/paused/cancelled, why, provider backoff

    def recipient(self, key: str) -> str:
        return f"{self.tag}:r:{key}"
