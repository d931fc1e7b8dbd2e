"""Thin shim so `python cli.py ...` works from a checkout; the CLI lives in `nas.cli`."""

from nas.cli import main

if __name__ == "__main__":
    main()
