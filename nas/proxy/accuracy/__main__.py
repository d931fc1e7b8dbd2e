"""Regenerate the shipped dataset's features: ``python -m nas.proxy.accuracy``."""

from __future__ import annotations

from nas.proxy.accuracy.predictor import FEATURES_FILE, write_features_file

if __name__ == "__main__":
    payload = write_features_file()
    print(f"wrote {FEATURES_FILE} ({len(payload['features'])} rows)")
