"""The render core: a template and values in, an image at or under its byte budget out.

Owns templates (``catalog``, ``manifest``, ``fields``, ``filters``), the safety of what they
draw (``guard``, ``limits``), the text engine (``text``: shaping, bidi, fonts, fitting),
drawing (``compose``, ``raster``), encoding (``encode``), the pipeline (``render``), live
value kinds (``live``) and ``lint``. It imports nothing from the service or the campaigns.
"""
