"""``flask catalogue import`` and ``flask demo load`` against a real database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from warehouse.repository import devices, organisations

DATA = Path(__file__).resolve().parent.parent / "data"


def run(runner: FlaskCliRunner, *args: str) -> str:
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def summary(output: str) -> list[int]:
    """The numbers under 'read imported skipped rejected registrants'."""
    return [int(n) for n in output.strip().splitlines()[-1].split()]


def test_csv_import_stores_good_rows_and_reports_bad_ones_by_row(
    runner: FlaskCliRunner, db_session: Session
) -> None:
    output = run(runner, "catalogue", "import", str(DATA / "catalogue_sample.csv"))
    assert summary(output) == [6, 3, 0, 3, 2]
    assert re.search(
        r"\b4\s+zxxsdycpbs\s+gs1.check_digit\s+Expected check digit 5, got 6\.", output
    )
    assert re.search(r"\b5\s+tyshxydm\s+code.credit_code\s+Expected check character K", output)
    assert re.search(r"\b6\s+qxlb\s+", output)
    assert re.search(r"\b6\s+certificate_valid_from\s+field.required", output)
    assert "row 3: created registrant 北京康联医疗科技有限公司 (91110108MA01XYW4RN)" in output

    stent = devices.find_by_di(db_session, "06934567890108")
    assert stent is not None
    assert stent.record.implantable
    assert stent.record.certificates[0].number == "国械注准20213130456"
    assert devices.find_by_di(db_session, "06920123450016") is None
    registrant = organisations.find_by_credit_code(db_session, "91110108MA01XYW4RN")
    assert registrant is not None
    assert registrant.jurisdiction.value == "110108"


def test_importing_the_same_file_again_skips_every_stored_row(
    runner: FlaskCliRunner,
) -> None:
    run(runner, "catalogue", "import", str(DATA / "catalogue_sample.csv"))
    again = run(runner, "catalogue", "import", str(DATA / "catalogue_sample.csv"))
    assert summary(again) == [6, 0, 3, 3, 0]
    assert "row 2: skipped 06920123450015, already in the catalogue" in again


def test_udid_xml_import_keeps_package_levels_and_storage(
    runner: FlaskCliRunner, db_session: Session
) -> None:
    output = run(runner, "catalogue", "import", str(DATA / "catalogue_sample.xml"))
    assert summary(output) == [3, 2, 0, 1, 2]
    assert re.search(r"\b3\s+packingList\[1\]\.bzcpbs\s+gs1.check_digit", output)
    stent = devices.find_by_di(db_session, "26934567890119")  # found through its case DI
    assert stent is not None
    assert stent.record.di == "06934567890115"
    assert [(p.entry.package_di, p.entry.quantity, p.level) for p in stent.packages] == [
        ("16934567890112", 5, "中包装"),
        ("26934567890119", 10, "箱"),
    ]
    assert stent.record.storage is not None
    assert stent.record.storage.max_relative_humidity == 75


def test_udid_json_import_accepts_hibc_and_ma_dis_as_given(
    runner: FlaskCliRunner, db_session: Session
) -> None:
    output = run(
        runner, "catalogue", "import", "--format", "udid-json", str(DATA / "catalogue_sample.json")
    )
    assert summary(output) == [3, 2, 0, 1, 1]
    assert re.search(r"\b3\s+scbssfbhph\s+field.invalid\s+Expected 是/否", output)
    hibc = devices.find_by_di(db_session, "+EKLS8KCH0301")
    ma = devices.find_by_di(db_session, "MA.156.M0.100761.21234561")
    assert (hibc and hibc.issuer, ma and ma.issuer) == ("hibc", "ma")


def test_a_file_that_is_not_xml_is_refused_whole(runner: FlaskCliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<udid><devices>", encoding="utf-8")
    result = runner.invoke(args=["catalogue", "import", str(broken)])
    assert result.exit_code != 0
    assert "Expected well-formed XML" in result.output


@pytest.fixture
def demo_output(runner: FlaskCliRunner) -> tuple[str, str]:
    return run(runner, "demo", "load"), run(runner, "demo", "load")


def test_demo_load_twice_adds_nothing_the_second_time(demo_output: tuple[str, str]) -> None:
    first, second = demo_output
    assert "50 devices added (0 already there)" in first
    assert "0 devices added (50 already there)" in second
    roles = re.findall(r"^(\w+) token: udi_\S+  for \S", second, re.MULTILINE)
    assert set(roles) == {
        "admin",
        "org_manager",
        "warehouse_operator",
        "scanner",
        "distributor_sync",
        "hospital_user",
        "regulator",
        "auditor",
    }
    assert second.count("custody check") == 3
    assert second.count("curl -s -H") == second.count("custody-check?") + 1  # + the handheld scan
