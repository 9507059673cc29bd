"""Message providers that speak Twilio's Messages API: Twilio itself, compatible providers,
and the local sandbox (``sandbox.py``) that rehearses a campaign for real."""
