"""Text that XML 1.0 can hold (pure): ElementTree escapes markup but writes forbidden characters as they are."""

from __future__ import annotations

import re

# What XML 1.0 forbids (control characters but tab, LF and CR; surrogates; U+FFFE, U+FFFF): a document holding one
# no longer parses. TSV readers choke on them too.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text) -> str:
    """text without the characters XML 1.0 forbids."""
    return _NOT_XML.sub("", str(text))
