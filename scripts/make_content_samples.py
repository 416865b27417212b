"""Make the synthetic card and receipt photos of tests/data/content (run once, output committed).

Each is a made-up card or receipt (fictional names and numbers) drawn with DejaVu Sans or
IPA Gothic (Debian fonts-dejavu-core, fonts-ipafont-gothic) and laid, slightly turned,
on a scikit-image sample photo (CC0). Usage: python scripts/make_content_samples.py
(needs scikit-image; writes into tests/data/content/). ``... make_content_samples.py numbers``
makes only the long-number set (a note, a light-mode phone screen, a shop sign) on
a drawn background, with Pillow alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "content"
LATIN = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LATIN_MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
JAPANESE = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"


def table(size: tuple[int, int], seed: int) -> Image.Image:
    """A drawn wooden table top: grain stripes and noise (no photo needed)."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 40 * np.pi, size[1])[:, None] + rng.normal(0, 0.3, (size[1], 1))
    grain = 0.5 + 0.25 * np.sin(rows + np.linspace(0, 3, size[0])[None, :])
    noise = rng.normal(0, 0.05, (size[1], size[0]))
    shade = np.clip(grain + noise, 0, 1)[:, :, None]
    wood = (np.array([120, 80, 45]) + shade * np.array([70, 50, 30])).astype(np.uint8)
    return Image.fromarray(wood).filter(ImageFilter.GaussianBlur(1))


def note(lines: list[str], font_path: str, size: int) -> Image.Image:
    paper = Image.new("RGB", (700, 120 + 80 * len(lines)), (248, 246, 232))
    draw = ImageDraw.Draw(paper)
    font = ImageFont.truetype(font_path, size)
    for row, text in enumerate(lines):
        draw.text((50, 60 + row * 80), text, font=font, fill=(25, 35, 90))
    return paper


def phone_screen(lines: list[str], font_path: str) -> Image.Image:
    """A phone in light mode: a black body around a bright, evenly lit screen."""
    body = Image.new("RGB", (480, 960), (15, 15, 18))
    screen = Image.new("RGB", (440, 860), (252, 252, 252))
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, 440, 70), fill=(240, 240, 244))
    font = ImageFont.truetype(font_path, 30)
    for row, text in enumerate(lines):
        draw.text((30, 110 + row * 62), text, font=font, fill=(20, 20, 20))
    body.paste(screen, (20, 50))
    return body


def numbers() -> None:
    """The long-number set: every number on it is made up."""
    scene = table((1600, 1200), 1)
    memo = note(["Call Ken tomorrow", "03 5550 0147", "after 6 pm"], LATIN, 56)
    lay(memo, scene, 1600, 4).save(OUT / "synthetic-note-phone.jpg", quality=90)
    memo_ja = note(["田中さんへ", "電話 090-5550-0123", "よろしくお願いします"], JAPANESE, 50)
    lay(memo_ja, table((1600, 1200), 2), 1600, -3).save(
        OUT / "synthetic-note-phone-ja.jpg", quality=90
    )
    contact = phone_screen(
        ["Contacts", "Ken Example", "mobile", "080 5550 0123", "work", "Example Ltd", "Notes"],
        LATIN,
    )
    lay(contact, table((1400, 1400), 3), 1400, -6).save(
        OUT / "synthetic-screen-light.jpg", quality=90
    )
    # Paper on a dark desk, lit from one side: what a light-mode screen could be taken for.
    letter = note(
        ["Dear Ken,", "the keys are with", "the neighbours at", "number 12. See you", "on Friday!"],
        LATIN,
        48,
    )
    light = np.linspace(1.0, 0.86, letter.width)[None, :, None]
    letter = Image.fromarray((np.asarray(letter) * light).astype(np.uint8))
    desk = Image.new("RGB", (1600, 1200), (38, 34, 32))
    lay(letter, desk, 1600, -2).save(OUT / "synthetic-letter-dark-desk.jpg", quality=90)
    sign = note(["COFFEE 3.50", "TEA 2.80", "Open 8 - 18", "Since 1998"], LATIN, 56)
    lay(sign, table((1600, 1200), 4), 1600, 2).save(OUT / "synthetic-sign-prices.jpg", quality=90)


def card(lines: list[str], font_path: str, with_face: bool) -> Image.Image:
    card = Image.new("RGB", (856, 540), (236, 240, 246))
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, 856, 90), fill=(30, 70, 140))
    title = ImageFont.truetype(font_path, 44)
    body = ImageFont.truetype(font_path, 34)
    draw.text((30, 20), lines[0], font=title, fill="white")
    left = 30
    if with_face:
        import skimage.data

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
    import skimage.data

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
    scenes = "astronaut page rocket grass gravel chelsea coffee brick hubble_deep_field"
    for name in scenes.split():
        image = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
        image.save(OUT / f"skimage-{name}.jpg", quality=90)


if __name__ == "__main__":
    if sys.argv[1:] == ["numbers"]:
        numbers()
    else:
        main()
