"""What a parse failure says after the file's name: the parser's own words, or the library error it let through."""

import zlib

from gap_replay.sources.base import ParseError, failure_detail


def test_a_parser_error_that_names_the_file_loses_the_repeated_name():
    error = ParseError("raw/a.xml.gz: truncated after 3 records")

    assert failure_detail(error, "raw/a.xml.gz") == "truncated after 3 records"


def test_a_library_error_keeps_its_type():
    error = zlib.error("invalid stored block lengths")

    assert failure_detail(error, "raw/a.xml.gz") == "error('invalid stored block lengths')"
