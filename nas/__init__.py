"""nas: hardware-aware architecture search for mobile vision transformers."""

__version__ = "0.1.0"
