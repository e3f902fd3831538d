"""Kinetics-400 read as downloaded (CVDF/ActivityNet CSVs, mmaction2 lists)."""
