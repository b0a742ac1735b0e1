"""Operators: placeholders, consistent surrogates, per-patient date shifting."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from codeproof.deid.engine import anonymize
from codeproof.deid.operators import (
    DateShifter,
    PlaceholderOperator,
    RedactOperator,
    SurrogateOperator,
    make_operator,
)
from codeproof.deid.spans import PhiSpan
from codeproof.errors import ConfigError


def test_redact_and_placeholder() -> None:
    assert RedactOperator().replace("Okonkwo", "NAME") == "[REDACTED]"
    assert PlaceholderOperator().replace("Okonkwo", "NAME") == "[NAME]"


def test_surrogates_are_consistent_per_patient() -> None:
    op = SurrogateOperator()
    a1 = op.replace("Okonkwo", "NAME", patient_key="patient-A")
    a2 = op.replace("okonkwo", "NAME", patient_key="patient-A")
    assert a1.lower() == a2.lower() and a1 != "Okonkwo"
    others = {op.replace("Okonkwo", "NAME", patient_key=f"patient-{i}") for i in range(12)}
    assert len(others) > 1  # different patients get unrelated surrogates
    assert op.replace("617-555-0142", "PHONE", patient_key="k").count("-") == 2
    assert op.replace("HALVORSEN", "NAME", patient_key="k").isupper()


@pytest.mark.parametrize(
    ("first", "second"),
    [("3/14/2021", "3/21/2021"), ("2020-12-30", "2021-01-02"),
     ("July 29th, 2020", "August 2nd, 2020"), ("12/31/99", "1/1/00")],
)
def test_date_shift_preserves_intervals(first: str, second: str) -> None:
    shifter = DateShifter("patient-A")
    a, b = shifter.shift(first), shifter.shift(second)
    assert a is not None and b is not None and a != first

    def parse(text: str, year: int = 2001) -> dt.date:
        for fmt in ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d", "%m/%d"):
            try:
                d = dt.datetime.strptime(text, fmt).date()
                return d.replace(year=year) if fmt == "%m/%d" else d
            except ValueError:
                continue
        clean = re.sub(r"(?<=\d)(st|nd|rd|th)", "", text)
        return dt.datetime.strptime(clean, "%B %d, %Y").date()

    assert (parse(b) - parse(a)) == (parse(second) - parse(first))
    assert (parse(a) - parse(first)).days == shifter.days


def test_date_shift_keeps_month_day_format() -> None:
    shifted = DateShifter("patient-A").shift("7/22")
    assert shifted is not None and shifted.count("/") == 1
    month, day = (int(x) for x in shifted.split("/"))
    assert 1 <= month <= 12 and 1 <= day <= 31


def test_date_shift_is_per_patient_and_bounded() -> None:
    days = {DateShifter(f"p{i}").days for i in range(20)}
    assert len(days) > 1 and all(-365 <= d <= -1 for d in days)
    assert DateShifter("p").shift("not a date") is None


def test_anonymize_uses_date_shift_then_operator() -> None:
    text = "seen 7/22 by Okonkwo"
    spans = (PhiSpan(start=5, end=9, type="DATE"), PhiSpan(start=13, end=20, type="NAME"))
    out = anonymize(text, spans, operator=PlaceholderOperator(), patient_key="p",
                    date_shift=True)
    assert out.text.endswith("by [NAME]") and "7/22" not in out.text and "/" in out.text


def test_unknown_operator() -> None:
    with pytest.raises(ConfigError):
        make_operator("hash")
