"""mms-renderer's benchmarks: ``python -m bench`` (``make bench``); ``--quick`` for a smoke run."""
