"""Scanner ingestion: handheld scans and label images in, labels out."""
