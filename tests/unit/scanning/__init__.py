"""Unit tests of scanning: image decoding and label rendering, with the real libraries."""
