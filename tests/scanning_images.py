"""Synthetic label photos for the decoding tests and the benchmark: deterministic, no files.

A "photo" is a rendered label pasted on a cluttered, noisy background, turned by a few
degrees, slightly blurred and saved as a lossy JPEG, like a phone picture of a carton.
"""

from __future__ import annotations

import io
import random
from datetime import date

from PIL import Image, ImageDraw, ImageFilter

from scanning.labels import Label, LabelData, Symbology, render_label

GS1_LABEL = LabelData("06901234567892", lot="LOT123", serial="SN0001", expiry=date(2027, 12, 31))
HIBC_LABEL = LabelData("A99912345", lot="LOT123", serial="SN77", expiry=date(2027, 12, 31))


def label_image(label: Label) -> Image.Image:
    return Image.open(io.BytesIO(label.content)).convert("L")


def background(size: tuple[int, int], seed: int = 7) -> Image.Image:
    """A grey gradient with shapes and uniform noise: clutter a detector must ignore."""
    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize(size).point(lambda v: 90 + v // 2)
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = rng.randrange(20, 160), rng.randrange(20, 160)
        shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
        shape((x, y, x + w, y + h), outline=rng.randrange(256), width=3)
    noise = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    return Image.blend(image, noise, 0.12)


def photo(
    label: Label,
    *,
    size: tuple[int, int] = (1200, 900),
    angle: float = 10.0,
    quality: int = 60,
    seed: int = 7,
) -> bytes:
    """JPEG bytes of ``label`` on a white card, pasted on clutter and turned by ``angle``."""
    symbol = label_image(label)
    card = Image.new("L", (symbol.width + 60, symbol.height + 60), 245)
    card.paste(symbol, (30, 30))
    turned = card.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=0)
    mask = Image.new("L", card.size, 255).rotate(angle, expand=True, fillcolor=0)
    scene = background(size, seed)
    scene.paste(turned, ((size[0] - turned.width) // 2, (size[1] - turned.height) // 2), mask)
    scene = scene.filter(ImageFilter.GaussianBlur(0.6))
    buffer = io.BytesIO()
    scene.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def gs1_datamatrix_photo() -> bytes:
    """About one megapixel (1200x900): a GS1 DataMatrix label turned 10°, JPEG q60."""
    return photo(render_label(GS1_LABEL, Symbology.DATAMATRIX, scale=6))
