"""``GET /api/v1/rules/custody-check`` on the demo data: the URLs the demo prints answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient, FlaskCliRunner

from tests.e2e.test_service_basics import assert_problem


@dataclass(frozen=True)
class Demo:
    """What ``flask demo load`` printed: custody URLs by label, and tokens."""

    urls: dict[str, str]
    tokens: dict[str, str]

    def url(self, label_part: str) -> str:
        (url,) = [url for label, url in self.urls.items() if label_part in label]
        return url

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def demo(runner: FlaskCliRunner) -> Demo:
    output = runner.invoke(args=["demo", "load"]).output
    pattern = r"^custody check (.+):\n  curl .*'http://[^/']+(/api/[^']+)'$"
    urls = dict(re.findall(pattern, output, re.MULTILINE))
    tokens = {
        "admin": re.search(r"^admin token: (\S+)", output, re.MULTILINE),
        "tpl": re.search(r"^org_manager token: (\S+)  for 鹭通", output, re.MULTILINE),
        "regulator": re.search(r"^regulator token: (\S+)", output, re.MULTILINE),
    }
    return Demo(urls, {who: match.group(1) for who, match in tokens.items() if match})


def test_the_printed_allowed_url_answers_allowed_by_r2_with_the_chain(
    client: FlaskClient, demo: Demo
) -> None:
    body = client.get(demo.url("wholly owned through"), headers=demo.headers("tpl")).get_json()
    assert (body["allowed"], body["rule"]) == (True, "R2")
    assert body["rule_title"].startswith("3PL parent")
    assert [step["child_name"] for step in body["chain"]] == [
        "鹭通供应链管理（厦门）有限公司",
        "鹭通医药物流（泉州）有限公司",
    ]
    assert [a["rule"] for a in body["attempts"]] == ["R1", "R2"]
    assert body["request"]["service_label_zh"] == "贮存"


def test_the_printed_refused_url_explains_every_rule(client: FlaskClient, demo: Demo) -> None:
    body = client.get(demo.url("refused"), headers=demo.headers("admin")).get_json()
    assert (body["allowed"], body["rule"], body["chain"]) == (False, None, None)
    assert [a["rule"] for a in body["attempts"]] == ["R1", "R2", "R3", "R4"]
    assert "custody.no_agreement" in {r["code"] for r in body["attempts"][3]["reasons"]}
    messages = [r["message"] for a in body["attempts"] for r in a["reasons"]]
    assert messages
    assert all(m.startswith("Expected") for m in messages)


def test_the_60_percent_subsidiary_is_refused_by_r2_and_allowed_by_r4(
    client: FlaskClient, demo: Demo
) -> None:
    body = client.get(demo.url("60%"), headers=demo.headers("tpl")).get_json()
    r2 = body["attempts"][1]
    assert (r2["rule"], r2["allowed"]) == ("R2", False)
    assert [r["code"] for r in r2["reasons"]] == ["custody.not_wholly_owned"]
    assert (body["allowed"], body["rule"]) == (True, "R4")


def test_a_warehouse_outside_the_regulators_jurisdiction_is_a_404(
    client: FlaskClient, demo: Demo
) -> None:
    # The warehouse is in Quanzhou (3505); the regulator's token covers Xiamen (3502).
    response = client.get(demo.url("refused"), headers=demo.headers("regulator"))
    assert_problem(response, 404, "request.not_found")


def test_an_unknown_di_and_a_missing_parameter_are_problems(
    client: FlaskClient, demo: Demo
) -> None:
    url = demo.url("refused")
    unknown = re.sub(r"di=\d+", "di=06900000000005", url)
    assert_problem(client.get(unknown, headers=demo.headers("admin")), 404, "request.not_found")
    missing = re.sub(r"&owner=[^&]+", "", url)
    assert_problem(client.get(missing, headers=demo.headers("admin")), 422, "request.validation")
