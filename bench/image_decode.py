"""``scanning.decoding.decode_image`` against a bare ``zxingcpp.read_barcodes``, same images.

    python bench/image_decode.py [--repeats 60]

Images: synthetic ~1-megapixel label photos (1200x900 JPEG q60, label turned 10° on clutter;
see tests/scanning_images.py). For each, the median over interleaved runs of:

- ``decode_image``: our whole path, JPEG bytes in (limits, Pillow decode, greyscale, zxing-cpp
  restricted to the UDI symbologies, retries only if nothing is found);
- ``bare``: ``Image.open`` + ``zxingcpp.read_barcodes`` with default options, JPEG bytes in;
- ``bare (in memory)``: ``zxingcpp.read_barcodes`` on an already decoded image.

The goal is ``decode_image`` ≤ 1.1x ``bare``. Results also go to bench/results/image_decode.json.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zxingcpp
from PIL import Image

from bench._common import median, print_table, write_results
from scanning.decoding import decode_image
from scanning.labels import Symbology, render_label
from tests.scanning_images import GS1_LABEL, HIBC_LABEL, photo

GOAL = 1.1


def _images() -> dict[str, bytes]:
    return {
        "GS1 DataMatrix, 10°": photo(render_label(GS1_LABEL, Symbology.DATAMATRIX, scale=6)),
        "HIBC DataMatrix, 10°": photo(render_label(HIBC_LABEL, Symbology.HIBC_DATAMATRIX, scale=6)),
        "GS1-128, 0°": photo(render_label(GS1_LABEL, Symbology.GS1_128, scale=3), angle=0),
    }


def _ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _measure(data: bytes, repeats: int) -> dict[str, float | int | str]:
    decoded = Image.open(io.BytesIO(data))
    decoded.load()
    ours = decode_image(data)
    bare = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    assert ours, "decode_image found nothing"
    assert [b.bytes.decode("latin-1") for b in bare] == [s.text for s in ours], "results differ"
    calls: dict[str, Callable[[], object]] = {
        "decode_image": lambda: decode_image(data),
        "bare": lambda: zxingcpp.read_barcodes(Image.open(io.BytesIO(data))),
        "bare_in_memory": lambda: zxingcpp.read_barcodes(decoded),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):  # interleaved, so drift of the machine hits all three alike
        for name, call in calls.items():
            times[name].append(_ms(call))
    medians = {name: round(median(values), 2) for name, values in times.items()}
    return {
        "pixels": decoded.width * decoded.height,
        "bytes": len(data),
        "found": ours[0].symbology or "",
        **{f"{name}_ms": value for name, value in medians.items()},
        "ratio": round(medians["decode_image"] / medians["bare"], 2),
        "ratio_in_memory": round(medians["decode_image"] / medians["bare_in_memory"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    results = {name: _measure(data, args.repeats) for name, data in _images().items()}
    headers = ["image", "px", "symid", "decode_image ms", "bare ms", "ratio", "bare in-mem ms"]
    rows = [
        [
            name,
            r["pixels"],
            r["found"],
            r["decode_image_ms"],
            r["bare_ms"],
            f"{r['ratio']}x",
            r["bare_in_memory_ms"],
        ]
        for name, r in results.items()
    ]
    print_table(headers, rows)
    worst = max(float(r["ratio"]) for r in results.values())
    print(f"\nworst ratio {worst}x (goal <= {GOAL}x): {'met' if worst <= GOAL else 'NOT met'}")
    path = write_results(
        "image_decode",
        {"repeats": args.repeats, "goal_ratio": GOAL, "worst_ratio": worst, "images": results},
    )
    print(f"written {path}")


if __name__ == "__main__":
    main()
