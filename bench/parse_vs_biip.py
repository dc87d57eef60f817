"""udi.parse against biip 5.x on the same generated corpus, in the same process.

    python bench/parse_vs_biip.py [--size 12000] [--seed 7]

The corpus holds valid scans with correct check digits: GS1 element strings with and without
a symbology identifier, bracketed HRI, Digital Link URIs, plus HIBC and MA codes that only udi
reads. For each GS1 form it prints parses/s for both libraries and the ratio, then how often
the two agree on the element strings of every GS1 scan both accept. Results also go to
bench/results/parse_vs_biip.json.

biip's entry points: ``biip.parse`` for element strings and Digital Link, and
``GS1Message.parse_hri`` for HRI (``biip.parse`` does not read parentheses).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import biip
from biip.gs1_messages import GS1Message

import udi
from bench._common import best_rate, print_table, write_results
from udi.checksums import gs1_mod10, hibc_mod43

GS = "\x1d"
LOT_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-"


def gtin(rng: random.Random) -> str:
    body = "0" + str(rng.randint(690, 699)) + "".join(rng.choice("0123456789") for _ in range(9))
    return body + str(gs1_mod10(body))


def yymmdd(rng: random.Random, start: date, days: int, end_of_month: bool = False) -> str:
    day = start + timedelta(days=rng.randrange(days))
    return day.strftime("%y%m") + ("00" if end_of_month else day.strftime("%d"))


def token(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(LOT_CHARS) for _ in range(rng.randint(low, high)))


def gs1_fields(rng: random.Random) -> list[tuple[str, str]]:
    """AIs of a device label in GS1 China's recommended order (fixed length first)."""
    fields = [("01", gtin(rng))]
    if rng.random() < 0.5:
        fields.append(("11", yymmdd(rng, date(2024, 1, 1), 900)))
    fields.append(("17", yymmdd(rng, date(2027, 1, 1), 1500, end_of_month=rng.random() < 0.1)))
    fields.append(("10", token(rng, 3, 12)))
    if rng.random() < 0.7:
        fields.append(("21", token(rng, 4, 16)))
    return fields


def element_string(fields: list[tuple[str, str]]) -> str:
    out = []
    for index, (ai, value) in enumerate(fields):
        out.append(ai + value)
        if ai in ("10", "21") and index < len(fields) - 1:
            out.append(GS)
    return "".join(out)


def hri(fields: list[tuple[str, str]]) -> str:
    return "".join(f"({ai}){value}" for ai, value in fields)


def digital_link(fields: list[tuple[str, str]]) -> str:
    values = dict(fields)
    path = f"https://id.gs1.org/01/{values['01']}/10/{quote(values['10'], safe='')}"
    if "21" in values:
        path += f"/21/{quote(values['21'], safe='')}"
    query = "&".join(f"{ai}={values[ai]}" for ai in ("11", "17") if ai in values)
    return f"{path}?{query}" if query else path


def hibc(rng: random.Random) -> str:
    """A concatenated HIBC primary/secondary with a YYMMDD expiry ($$3) and a lot."""
    lic = rng.choice("ABCDEFGHJ") + "".join(rng.choice("0123456789") for _ in range(3))
    pcn = "".join(rng.choice("0123456789ABCDEF") for _ in range(rng.randint(3, 10)))
    expiry = date(2027, 1, 1) + timedelta(days=rng.randrange(900))
    lot = token(rng, 3, 10).replace("-", "")
    data = f"+{lic}{pcn}{rng.randint(0, 8)}/$$3{expiry:%y%m%d}{lot}"
    return data + hibc_mod43(data)


def ma_code(rng: random.Random) -> str:
    registrant = "".join(rng.choice("0123456789") for _ in range(6))
    product = "".join(rng.choice("0123456789ABCDEFGHJK") for _ in range(rng.randint(8, 12)))
    made = date(2025, 1, 1) + timedelta(days=rng.randrange(300))
    expiry = made + timedelta(days=730)
    return (
        f"MA.156.M0.{registrant}.{product}.S{token(rng, 5, 10).replace('-', '')}"
        f".M{made:%y%m%d}.L{made:%Y%m%d}.E{expiry:%y%m%d}"
    )


def build_corpus(size: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    share = {"gs1_symbology": 0.35, "gs1_raw": 0.10, "gs1_hri": 0.20, "gs1_dl": 0.20}
    corpus: dict[str, list[str]] = {name: [] for name in (*share, "hibc", "ma")}
    for _ in range(int(size * share["gs1_symbology"])):
        corpus["gs1_symbology"].append("]d2" + element_string(gs1_fields(rng)))
    for _ in range(int(size * share["gs1_raw"])):
        corpus["gs1_raw"].append(element_string(gs1_fields(rng)))
    for _ in range(int(size * share["gs1_hri"])):
        corpus["gs1_hri"].append(hri(gs1_fields(rng)))
    for _ in range(int(size * share["gs1_dl"])):
        corpus["gs1_dl"].append(digital_link(gs1_fields(rng)))
    for _ in range(int(size * 0.08)):
        corpus["hibc"].append(hibc(rng))
    for _ in range(int(size * 0.07)):
        corpus["ma"].append(ma_code(rng))
    return corpus


def biip_elements(scan: str, form: str) -> frozenset[tuple[str, str]] | None:
    try:
        if form == "gs1_hri":
            message = GS1Message.parse_hri(scan)
            return frozenset((e.ai.ai, e.value) for e in message.element_strings)
        result = biip.parse(scan)
    except biip.ParseError:
        return None
    source = result.gs1_message or result.gs1_digital_link_uri
    if source is None:
        return None
    return frozenset((e.ai.ai, e.value) for e in source.element_strings)


def udi_elements(scan: str) -> frozenset[tuple[str, str]] | None:
    result = udi.parse(scan)
    if not result.ok:
        return None
    return frozenset((e.key, e.value) for e in result.udi.elements)


def biip_parser(form: str) -> Callable[[str], object]:
    return GS1Message.parse_hri if form == "gs1_hri" else biip.parse


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--size", type=int, default=12_000)
    args.add_argument("--seed", type=int, default=7)
    args.add_argument("--repeats", type=int, default=5)
    options = args.parse_args()
    corpus = build_corpus(options.size, options.seed)
    total = sum(len(scans) for scans in corpus.values())
    print(f"corpus: {total:,} scans, seed {options.seed}, best of {options.repeats} runs\n")

    rows, measured = [], {}
    gs1_scans: list[str] = []
    for form, scans in corpus.items():
        udi_rate, _ = best_rate(lambda s=scans: sum(1 for x in s if udi.parse(x)), options.repeats)
        entry = {"scans": len(scans), "udi_per_s": round(udi_rate)}
        if form.startswith("gs1"):
            gs1_scans.extend(scans)
            parse_biip = biip_parser(form)
            biip_rate, _ = best_rate(
                lambda s=scans, p=parse_biip: sum(1 for x in s if p(x)), options.repeats
            )
            entry |= {"biip_per_s": round(biip_rate), "ratio": round(udi_rate / biip_rate, 2)}
            rows.append((form, len(scans), f"{udi_rate:,.0f}", f"{biip_rate:,.0f}", entry["ratio"]))
        else:
            rows.append((form, len(scans), f"{udi_rate:,.0f}", "n/a (not supported)", "–"))
        measured[form] = entry

    gs1_udi, _ = best_rate(lambda: sum(1 for x in gs1_scans if udi.parse(x)), options.repeats)

    def biip_all() -> int:
        for form, scans in corpus.items():
            if form.startswith("gs1"):
                parse_biip = biip_parser(form)
                for scan in scans:
                    parse_biip(scan)
        return len(gs1_scans)

    gs1_biip, _ = best_rate(biip_all, options.repeats)
    ratio = round(gs1_udi / gs1_biip, 2)
    rows.append(("GS1 total", len(gs1_scans), f"{gs1_udi:,.0f}", f"{gs1_biip:,.0f}", ratio))
    print_table(("form", "scans", "udi parses/s", "biip parses/s", "udi/biip"), rows)

    agreement = Counter()
    differences = []
    for form, scans in corpus.items():
        if not form.startswith("gs1"):
            continue
        for scan in scans:
            ours, theirs = udi_elements(scan), biip_elements(scan, form)
            if ours is None or theirs is None:
                agreement[f"{'udi' if ours is None else 'biip'} rejected"] += 1
                differences.append({"scan": scan, "udi": ours is not None, "biip": theirs})
            elif ours == theirs:
                agreement["agree"] += 1
            else:
                agreement["differ"] += 1
                differences.append({"scan": scan, "udi": sorted(ours), "biip": sorted(theirs)})
    print(f"\nagreement on {len(gs1_scans):,} GS1 scans: {dict(agreement)}")
    for difference in differences[:10]:
        print("  difference:", difference)
    path = write_results(
        "parse_vs_biip",
        {
            "biip_version": biip.__version__,
            "corpus_size": total,
            "seed": options.seed,
            "forms": measured,
            "gs1_total": {"udi_per_s": round(gs1_udi), "biip_per_s": round(gs1_biip)},
            "gs1_ratio": ratio,
            "agreement": dict(agreement),
            "differences": [{k: str(v) for k, v in d.items()} for d in differences[:50]],
        },
    )
    print(f"\nwrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
