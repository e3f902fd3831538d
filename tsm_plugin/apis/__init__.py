"""Importable bodies of the command-line tools (the tools stay thin)."""
