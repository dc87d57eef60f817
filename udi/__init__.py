"""Parse and validate medical device UDI barcodes: GS1, HIBC, ISBT 128, China MA and AHM.

Pure Python, standard library only. ``parse`` never raises on bad data:

>>> import udi
>>> result = udi.parse("(01)04012345678901(17)281231(10)LOT-A1(21)SN0001")
>>> (result.ok, result.udi.agency, result.udi.di)
(True, <Agency.GS1: 'GS1'>, '04012345678901')
"""

from udi.config import ParseConfig
from udi.errors import EncodeError, Issue, ParseError, UdiError
from udi.interpret import parse
from udi.result import Agency, DatePrecision, Element, ParseResult, Udi, UdiDate
from udi.symbology import SymbologyId

__all__ = [
    "Agency",
    "DatePrecision",
    "Element",
    "EncodeError",
    "Issue",
    "ParseConfig",
    "ParseError",
    "ParseResult",
    "SymbologyId",
    "Udi",
    "UdiDate",
    "UdiError",
    "parse",
]
