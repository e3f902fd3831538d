"""HMDB51 read as downloaded (.avi class folders, the official splits)."""
