"""Make the synthetic card and receipt photos of tests/data/content (run once, output committed).

Each is a made-up card or receipt (fictional names and numbers) drawn with DejaVu Sans or
IPA Gothic (Debian fonts-dejavu-core, fonts-ipafont-gothic) and laid, slightly turned,
on a scikit-image sample photo (CC0). Usage: python scripts/make_content_samples.py
(needs scikit-image; writes into tests/data/content/).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "content"
LATIN = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LATIN_MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
JAPANESE = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"


def card(lines: list[str], font_path: str, with_face: bool) -> Image.Image:
    card = Image.new("RGB", (856, 540), (236, 240, 246))
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, 856, 90), fill=(30, 70, 140))
    title = ImageFont.truetype(font_path, 44)
    body = ImageFont.truetype(font_path, 34)
    draw.text((30, 20), lines[0], font=title, fill="white")
    left = 30
    if with_face:
        face = Image.fromarray(skimage.data.astronaut()).crop((150, 30, 330, 250))
        card.paste(face.resize((220, 268)), (30, 130))
        left = 280
    for row, text in enumerate(lines[1:]):
        draw.text((left, 140 + row * 62), text, font=body, fill=(20, 20, 30))
    return card


def receipt(lines: list[str], font_path: str) -> Image.Image:
    paper = Image.new("RGB", (520, 60 + 46 * len(lines)), (250, 250, 246))
    draw = ImageDraw.Draw(paper)
    font = ImageFont.truetype(font_path, 28)
    for row, text in enumerate(lines):
        draw.text((30, 30 + row * 46), text, font=font, fill=(30, 30, 30))
    return paper


def lay(thing: Image.Image, background: Image.Image, size: int, angle: float) -> Image.Image:
    scene = background.resize((size, round(size * background.height / background.width)))
    thing = thing.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC, fillcolor=None)
    mask = Image.new("L", thing.size, 0)
    mask.paste(255, (0, 0, *thing.size))
    turned = thing.convert("RGBA")
    scale = min(0.8 * scene.width / turned.width, 0.85 * scene.height / turned.height)
    turned = turned.resize((round(turned.width * scale), round(turned.height * scale)))
    scene.paste(
        turned, ((scene.width - turned.width) // 2, (scene.height - turned.height) // 2), turned
    )
    return scene


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    coffee = Image.fromarray(skimage.data.coffee())
    wood = Image.fromarray(np.asarray(Image.fromarray(skimage.data.brick()).convert("RGB")))
    member = card(
        [
            "MEMBER CARD",
            "ALICE EXAMPLE",
            "No. 4929 1234 5678 9012",
            "Valid to 12/29",
            "Tel 090 1234 5678",
        ],
        LATIN,
        with_face=True,
    )
    lay(member, coffee, 1600, 7).save(OUT / "synthetic-card-face.jpg", quality=90)
    ja_card = card(
        [
            "会員証",
            "山田 花子",
            "会員番号 1234 5678 9012",
            "有効期限 2029年12月",
            "電話 090-1234-5678",
        ],
        JAPANESE,
        with_face=False,
    )
    lay(ja_card, wood, 1400, -5).save(OUT / "synthetic-card-ja.jpg", quality=90)
    items = [f"ITEM {n:02d} ............ {n * 1.25:6.2f}" for n in range(1, 12)]
    en_receipt = receipt(
        ["CORNER SHOP", "12 Example Road", *items, "TOTAL ........... 82.50", "CARD **** 9012"],
        LATIN_MONO,
    )
    lay(en_receipt, coffee, 1400, 3).save(OUT / "synthetic-receipt.jpg", quality=90)
    ja_items = [f"商品{n:02d}　　　　　　 ¥{n * 120:,}" for n in range(1, 11)]
    ja_receipt = receipt(
        ["領収書", "サンプル商店　新宿店", *ja_items, "合計　　　　　 ¥6,600", "電話 03-1234-5678"],
        JAPANESE,
    )
    lay(ja_receipt, wood, 1400, -4).save(OUT / "synthetic-receipt-ja.jpg", quality=90)
    for name in ("astronaut", "page", "rocket", "grass", "gravel", "chelsea"):
        image = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
        image.save(OUT / f"skimage-{name}.jpg", quality=90)


if __name__ == "__main__":
    main()
