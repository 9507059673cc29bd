"""The HTTP service: signed image URLs, batch URLs, the two-tier cache, live values, template
upload and lint, metrics and the studio, over the render core. ``app.py`` assembles it."""
