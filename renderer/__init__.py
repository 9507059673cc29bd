"""mms-renderer: personalized MMS images from SVG templates, always under the byte budget."""

__version__ = "0.1.0"
