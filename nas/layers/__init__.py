"""Building blocks: one idea per module; models import layers, never the reverse."""
