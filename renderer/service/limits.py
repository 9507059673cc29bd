"""How big a request to the HTTP service may be. (The render core's limits, on templates,
values and images, are in ``renderer/core/limits.py``.)"""

MAX_QUERY_BYTES = 8 * 1024  # an image URL's query: 414 past it
MAX_BODY_BYTES = 4 * 1024 * 1024  # a JSON body: 413 past it
MAX_RECIPIENTS = 10_000  # per POST /v1/urls
MAX_UPLOAD_BYTES = 20_000_000  # a template upload, as sent
MAX_UNPACKED_BYTES = 30_000_000  # ... and unpacked, counted while decompressing
KNOWN_URL_BYTES = 16_000_000  # the memo of verified immutable image URLs
