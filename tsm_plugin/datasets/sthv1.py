"""Something-Something V1 read as downloaded (frame folders, ';' CSVs)."""
