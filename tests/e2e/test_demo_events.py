"""``flask demo load`` records a real movement story, and loading it again records nothing."""

from __future__ import annotations

import json
import re

from flask.testing import FlaskClient, FlaskCliRunner

from warehouse.demo import BALLOON_DI, DEMO_DI
from warehouse.demo_events import BALLOON_LOT, PATIENT, STENT_SERIALS

SUMMARY = re.compile(r"demo events: (\d+) recorded, (\d+) already there, (\d+) refused")


def _admin(output: str) -> dict[str, str]:
    match = re.search(r"^admin token: (\S+)", output, re.MULTILINE)
    assert match, output
    return {"Authorization": f"Bearer {match.group(1)}"}


def test_demo_events_are_recorded_once(runner: FlaskCliRunner) -> None:
    first = runner.invoke(args=["demo", "load"]).output
    second = runner.invoke(args=["demo", "load"]).output

    recorded, replayed = SUMMARY.search(first), SUMMARY.search(second)
    assert recorded, first
    assert replayed, second
    total = int(recorded.group(1))
    assert total > 30, first
    assert recorded.group(3) == "0", first
    assert replayed.groups() == ("0", str(total), "0"), second


def test_demo_stock_ends_where_the_story_says(client: FlaskClient, runner: FlaskCliRunner) -> None:
    headers = _admin(runner.invoke(args=["demo", "load"]).output)

    stents = client.get(f"/api/v1/stock?di={DEMO_DI}&limit=100", headers=headers).get_json()
    # Three stents reached the cardiology store; one was used on a patient, so two remain.
    assert [row["quantity"] for row in stents["items"]] == [2]

    balloons = client.get(
        f"/api/v1/stock?di={BALLOON_DI}&lot={BALLOON_LOT}&limit=100", headers=headers
    ).get_json()
    assert sorted(row["quantity"] for row in balloons["items"]) == [8, 12]

    used = client.get(
        f"/api/v1/events?di={DEMO_DI}&serial={STENT_SERIALS[0]}&biz_step=dispensing",
        headers=headers,
    ).get_json()
    assert [event["patient_ref"] for event in used["items"]] == [PATIENT]


def test_the_printed_handheld_scan_is_accepted_and_its_replay_is_a_duplicate(
    client: FlaskClient, runner: FlaskCliRunner
) -> None:
    output = runner.invoke(args=["demo", "load"]).output
    printed = re.search(
        r"^  curl -s -H 'Authorization: Bearer (\S+)' \S+(/api/v1/scans) .* -d '(.+)'$",
        output,
        re.MULTILINE,
    )
    assert printed, output
    token, path, body = printed.groups()
    headers = {"Authorization": f"Bearer {token}"}

    first = client.post(path, json=json.loads(body), headers=headers)
    again = client.post(path, json=json.loads(body), headers=headers)

    assert first.status_code == 201, first.get_json()
    assert first.get_json()["status"] == "accepted"
    assert again.get_json()["status"] == "duplicate"
