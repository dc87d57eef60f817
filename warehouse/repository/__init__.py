"""Reading and writing master data with SQLAlchemy Core, one module per kind of record.

Functions take a :class:`~sqlalchemy.orm.Session`, never commit (services do), and turn rows
into the frozen domain dataclasses of :mod:`warehouse.domain`, wrapped in a ``Stored*`` record
where the API needs more than the rules do (chain ids, issuers, package entries).

Stored values are trusted: credit and division codes were validated on the way in, so reading
builds the value objects directly instead of parsing them again (a row written before a
validation rule tightened can still be read).
"""
