"""A district bureau acts for its own district (003 第七条: a district base is approved by the
district's 人力社保局 and 财政局; 002 五(一): 区县人力社保部门 recommend their district's units).
A bureau registered with ``body add --district`` recommends and approves only the grants of units
standing there; one registered without, or a unit without a district, is not judged."""

from __future__ import annotations

import json

from tests.conftest import Ledger, selected
from tests.test_core_rules import refused

BUREAUS = (
    ("RS-JB", "江北区人力社保局", "hr", "江北区"),
    ("CZ-JB", "江北区财政局", "finance", "500105"),
    ("RS-WZ", "万州区人力社保局", "hr", "万州区"),
    ("CZ-WZ", "万州区财政局", "finance", "500101"),
)


def _bureaus(ledger: Ledger) -> None:
    for code, name, duty, district in BUREAUS:
        ledger.ok("body", "add", code, "--name", name, "--kind", "district_bureau", "--duty", duty,
                  "--district", district, "--date", "2024-01-02", role="admin")  # fmt: skip


def _applied(ledger: Ledger, programme: str = "district_base", *more: str) -> None:
    ledger.ok("unit", "register", "U1", "--name", "江北单位", "--district", "江北区", "--date", "2024-02-01")
    ledger.ok("grant", "apply", "G1", "--unit", "U1", "--base", "B1", "--programme", programme,
              *more, "--date", "2024-03-01")  # fmt: skip


def test_a_district_base_is_approved_by_its_own_districts_bureaus(ledger: Ledger) -> None:
    """Approved by 江北区's 人力社保局 with 万州区's 财政局, a 江北区 unit's district base was
    accepted: the bodies were judged by kind alone."""
    _bureaus(ledger)
    _applied(ledger, "district_base", "--project", "电工", "--amount", "20万")
    selected(ledger, "G1")
    approve = ["grant", "approve", "G1", "--amount", "20万", "--document", "江北人社〔2024〕1号",
               "--date", "2024-04-01"]  # fmt: skip
    before = ledger.event_count()
    message = refused(
        ledger, *approve, "--body", "RS-JB", "--body", "CZ-WZ", role="approver", clause="003 第七条"
    )
    assert " — district bureau, 003 第七条" in message and "万州区" in message and "江北区" in message
    assert ledger.event_count() == before
    ledger.ok(*approve, "--body", "RS-JB", "--body", "CZ-JB", role="approver")
    assert ledger.balances()["B1"]["status"] == "approved"


def test_a_district_hr_bureau_recommends_its_own_districts_units(ledger: Ledger) -> None:
    _bureaus(ledger)
    _applied(ledger, "municipal_base_funded", "--project", "a", "--project", "b", "--amount", "50万")
    recommend = ["grant", "recommend", "G1", "--round", "2024", "--rank", "1", "--date", "2024-03-05"]
    message = refused(ledger, *recommend, "--by", "RS-WZ", role="approver", clause="002 五(一)")
    assert " — district bureau, 002 五(一)" in message and "万州区" in message
    ledger.ok(*recommend, "--by", "RS-JB", role="approver")


def test_only_a_district_bureau_has_a_district_and_the_list_shows_it(ledger: Ledger) -> None:
    result = ledger("body", "add", "RS-X", "--name", "某市局", "--kind", "municipal_bureau", "--duty", "hr",
                    "--district", "江北区", role="admin")  # fmt: skip
    assert result.exit_code == 2 and "district bureau" in result.stderr, result.stderr
    _bureaus(ledger)
    listed = {b["code"]: b for b in json.loads(ledger.ok("body", "list", "--format", "json").stdout)}
    assert listed["CZ-JB"]["district"] == "江北区" and listed["RS-WZ"]["district"] == "万州区"
    assert listed["RS-YZ"]["district"] == ""  # registered without one: not judged
    # the same registration again writes nothing; another district for the code is a conflict
    again = (
        "body",
        "add",
        "RS-JB",
        "--name",
        "江北区人力社保局",
        "--kind",
        "district_bureau",
        "--duty",
        "hr",
    )
    before = ledger.event_count()
    ledger.ok(*again, "--district", "500105", role="admin")
    assert ledger.event_count() == before
    assert ledger(*again, "--district", "万州区", role="admin").exit_code == 5


def test_the_bureaus_approving_a_grant_are_of_one_district_whatever_the_units(ledger: Ledger) -> None:
    """A unit registered without a district: 万州区's 人力社保局 with 江北区's 财政局 was accepted
    (found by the red-team pass over this rule). The bureaus named are of one district."""
    _bureaus(ledger)
    ledger.ok("unit", "register", "U2", "--name", "无区县单位", "--date", "2024-02-01")
    ledger.ok("grant", "apply", "G2", "--unit", "U2", "--base", "B2", "--programme", "district_base",
              "--project", "电工", "--amount", "20万", "--date", "2024-03-01")  # fmt: skip
    selected(ledger, "G2")
    approve = ["grant", "approve", "G2", "--amount", "20万", "--document", "批2", "--date", "2024-04-01"]
    message = refused(
        ledger, *approve, "--body", "RS-WZ", "--body", "CZ-JB", role="approver", clause="003 第七条"
    )
    assert " — district bureau, " in message and "万州区" in message and "江北区" in message
    ledger.ok(*approve, "--body", "RS-WZ", "--body", "CZ-WZ", role="approver")


def test_a_bureau_registered_without_a_district_is_given_one_once(ledger: Ledger) -> None:
    """The tests' ledger registers RS-YZ and CZ-YZ without a district, as a ledger made before
    bodies had one did: `body add` with the same name, kind and duty gives it its district, once;
    then the rule holds for it, and another district is a conflict naming the one it has."""
    again = [
        "body",
        "add",
        "RS-YZ",
        "--name",
        "渝中区人力社保局",
        "--kind",
        "district_bureau",
        "--duty",
        "hr",
    ]
    before = ledger.event_count()
    ledger.ok(*again, "--district", "渝中区", role="admin")
    given = ledger.event_count()
    assert given > before
    ledger.ok(*again, "--district", "500103", role="admin")
    assert ledger.event_count() == given
    conflict = ledger(*again, "--district", "万州区", role="admin")
    assert conflict.exit_code == 5 and "渝中区" in conflict.stderr, conflict.stderr
    listed = {b["code"]: b for b in json.loads(ledger.ok("body", "list", "--format", "json").stdout)}
    assert listed["RS-YZ"]["district"] == "渝中区"
    _bureaus(ledger)
    _applied(ledger, "district_base", "--project", "电工", "--amount", "20万")  # a 江北区 unit
    selected(ledger, "G1")
    approve = ["grant", "approve", "G1", "--amount", "20万", "--document", "批1", "--date", "2024-04-01"]
    message = refused(
        ledger, *approve, "--body", "RS-YZ", "--body", "CZ-JB", role="approver", clause="003 第七条"
    )
    assert "渝中区" in message and "江北区" in message


def test_a_units_district_stays_that_of_the_bureaus_that_acted_for_its_grants(ledger: Ledger) -> None:
    """Approved by 江北区's bureaus, a 江北区 unit was moved to 万州区 by `unit set-district`,
    leaving another district's bureaus standing for its grant (and so for one a 江北区 bureau
    recommended): refused, citing the act's clause, nothing written. The same district again, or
    a district first given to a unit registered without one, is its bureaus' district and stands."""
    _bureaus(ledger)
    _applied(ledger, "district_base", "--project", "电工", "--amount", "20万")
    selected(ledger, "G1")
    ledger.ok("grant", "approve", "G1", "--amount", "20万", "--document", "江北人社〔2024〕1号",
              "--body", "RS-JB", "--body", "CZ-JB", "--date", "2024-04-01", role="approver")  # fmt: skip
    move = ["unit", "set-district", "U1", "--date", "2024-05-01", "--district"]
    message = refused(ledger, *move, "万州区", clause="003 第七条")
    assert message.startswith(
        "grant-ledger: unit U1 is not moved to 万州区: body RS-JB 江北区人力社保局 (district_bureau, hr), a "
        "bureau of 江北区, acted for its grant G1, and a district bureau acts for its own district's units "
        "— district bureau, 003 第七条"
    ), message
    refused(ledger, *move, "500101", clause="003 第七条")  # by its code alike
    before = ledger.event_count()
    again = ledger.ok(*move, "500105")
    assert "already" in again.stdout and ledger.event_count() == before
    # recommended by 江北区's 人力社保局 (002 五(一)), before any approval
    ledger.ok("unit", "register", "U3", "--name", "江北单位三", "--district", "江北区",
              "--date", "2024-02-01")  # fmt: skip
    ledger.ok("grant", "apply", "G3", "--unit", "U3", "--base", "B3", "--programme", "municipal_base_funded",
              "--project", "a", "--project", "b", "--amount", "50万", "--date", "2024-03-01")  # fmt: skip
    ledger.ok("grant", "recommend", "G3", "--by", "RS-JB", "--round", "2024", "--rank", "1",
              "--date", "2024-03-05", role="approver")  # fmt: skip
    message = refused(ledger, "unit", "set-district", "U3", "--district", "万州区", clause="002 五(一)")
    assert "body RS-JB" in message and " — district bureau, 002 五(一)" in message
    # a unit registered without a district, approved by 万州区's bureaus: given 万州区, not 江北区
    ledger.ok("unit", "register", "U2", "--name", "无区县单位", "--date", "2024-02-01")
    ledger.ok("grant", "apply", "G2", "--unit", "U2", "--base", "B2", "--programme", "district_base",
              "--project", "电工", "--amount", "20万", "--date", "2024-03-01")  # fmt: skip
    selected(ledger, "G2")
    ledger.ok("grant", "approve", "G2", "--amount", "20万", "--document", "万州人社〔2024〕2号",
              "--body", "RS-WZ", "--body", "CZ-WZ", "--date", "2024-04-01", role="approver")  # fmt: skip
    refused(ledger, "unit", "set-district", "U2", "--district", "江北区", clause="003 第七条")
    given = ledger.ok("unit", "set-district", "U2", "--district", "万州区")
    assert "万州区" in given.stdout and ledger.event_count() > before
