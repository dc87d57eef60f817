"""Warehouse, custody and multi-warehouse rules for medical-device traceability."""
