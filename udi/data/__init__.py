"""Data files shipped with udi: the generated GS1 AI table and its NOTICE."""
