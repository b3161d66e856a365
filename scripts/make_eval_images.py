#!/usr/bin/python3
"""Write three evaluation sets of labelled digit images that are NOT made from MNIST.

Usage: scripts/make_eval_images.py OUTDIR [--seed N] [--per-class N]

Output (one sub-directory per label 0..9; the same seed gives the same files):

OUTDIR/lowres/<label>/NNNN_dark.png, NNNN_light.png -- real handwriting, low resolution.
    Source: the UCI "Optical Recognition of Handwritten Digits" (optdigits) test set
    (E. Alpaydin, C. Kaynak, 1998; UCI licence CC BY 4.0) as bundled in Debian's
    python3-sklearn (sklearn/datasets/data/digits.csv.gz, read by load_digits()):
    1797 digits written on NIST forms by 13 writers who are not MNIST's. Each 8x8 image
    (0..16 = count of ink pixels per 4x4 block of a 32x32 bitmap) is saved as it is,
    scaled to 0..255, in both polarities: dark ink on white ("dark") and white on black
    ("light", as MNIST). 2 x 1797 files.

OUTDIR/blurry/<label>/NNNN.png -- the same 1797 real 8x8 scans, upscaled BILINEARLY to
    64x64, dark ink on white: what a low-resolution scan looks like after a viewer or
    a scanner driver has enlarged it. The strokes are thick (about a quarter of the
    digit's width) and blurred, with no sharp edge to threshold at, and the loops of
    0, 6, 8 and 9 are only a few pixels across. Any other --seed gives each scan its
    own size (40..100 px) and a white margin, to check that nothing fits 64x64 alone. (The full optdigits set has 5620 digits
    by 43 writers; only the 13 writers of its test part ship offline, in python3-sklearn.)

OUTDIR/photos/<label>/NNNN_<font>.png|jpg -- SYNTHETIC "phone photos" of one digit.
    No real handwriting reachable offline here is large enough to look like a photo, so
    the digit shapes come from handwriting-style fonts shipped by Debian (FONTS below),
    each sample with its own random elastic + affine distortion (rotation up to 12
    degrees, shear, aspect) and stroke width (thin pen to marker; the stroke is offset
    on a signed distance field, so it also works for thin fonts). It is then put on
    simulated paper: off-white/yellowish, with paper texture and blotches, a lighting
    gradient, a vignette, a soft elliptical shadow, warm or cold light, blue or black
    ink, camera blur, sensor noise and exposure; frames of about 60x60 to 800x600, the
    digit anywhere, 10%..90% of the frame height (at least 14 px). About a third is
    grayscale; half is JPEG (quality 35..95). photos/manifest.csv lists each file's
    parameters. The fonts are typefaces, not sampled handwriting: this set tests
    robustness to capture conditions far more than to writer variation.

Needs Debian packages: python3-numpy python3-scipy python3-pil python3-sklearn fonts-bwht
fonts-dkg-handwriting fonts-breip fonts-humor-sans fonts-klee fonts-rufscript fonts-sjfonts
fonts-yusei-magic fonts-linex fonts-comic-neue.
"""
import argparse
import csv
import os
import sys
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

FONT_DIR = "/usr/share/fonts"
FONTS = [  # path under FONT_DIR; every one has all ten digits
    *[f"opentype/bwht/BecauseWe{n}-Regular.otf"  # fonts-bwht
      for n in ("Build", "Connect", "Create", "Learn", "Mentor", "Organize")],
    *[f"truetype/fifthhorseman/{n}.ttf" for n in ("dkg", "dkgBd", "dkgIt", "dkgBI")],  # fonts-dkg-handwriting
    "truetype/breip/breipfont.ttf",                     # fonts-breip
    "truetype/humor-sans/Humor-Sans.ttf",               # fonts-humor-sans
    "truetype/klee/KleeOne-Regular.ttf",                # fonts-klee (pencil/pen script)
    "truetype/klee/KleeOne-SemiBold.ttf",
    "truetype/rufscript/Rufscript010.ttf",              # fonts-rufscript
    "truetype/sjfonts/SteveHand.ttf",                   # fonts-sjfonts (its Delphine: ambiguous 1)
    "truetype/yusei-magic/YuseiMagic-Regular.ttf",      # fonts-yusei-magic (marker)
    "truetype/linex/Abecedario.ttf",                    # fonts-linex (school handwriting)
    "truetype/linex/AbecedarioNegrita.ttf",
    "opentype/comic-neue/ComicNeue-Regular.otf",        # fonts-comic-neue
    "opentype/comic-neue/ComicNeue-Italic.otf",
]
CANVAS, GLYPH_H = 256, 128  # glyphs are normalised to 128 px high on a 256x256 canvas
INKS = {"black": (0.10, 0.10, 0.12), "blue": (0.12, 0.18, 0.50), "darkblue": (0.08, 0.10, 0.30)}


def optdigits():
    """The UCI optdigits test part as (8x8 uint8 0..255 with ink high, label) pairs."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    return [(np.round(img * (255 / 16)).astype(np.uint8), label) for img, label in zip(digits.images, digits.target)]


def write_lowres(outdir):
    scans = optdigits()
    for i, (a, label) in enumerate(scans):
        d = os.path.join(outdir, "lowres", str(label))
        os.makedirs(d, exist_ok=True)
        Image.fromarray(255 - a).save(os.path.join(d, f"{i:04d}_dark.png"))
        Image.fromarray(a).save(os.path.join(d, f"{i:04d}_light.png"))
    return len(scans)


def write_blurry(outdir, seed):
    """Seed 1: every scan at 64x64. Other seeds (a check that nothing was tuned to 64x64):
    each scan at its own size of 40..100 px, on a white margin of 0..25% of that size."""
    scans = optdigits()
    for i, (a, label) in enumerate(scans):
        rng = np.random.default_rng([seed, 7, i])
        side, margin = (64, 0) if seed == 1 else (int(rng.integers(40, 101)), rng.uniform(0, 0.25))
        big = Image.fromarray(255 - a).resize((side, side), Image.BILINEAR)
        pad = round(margin * side)
        framed = Image.new("L", (side + 2 * pad, side + 2 * pad), 255)
        framed.paste(big, (pad, pad))
        d = os.path.join(outdir, "blurry", str(label))
        os.makedirs(d, exist_ok=True)
        framed.save(os.path.join(d, f"{i:04d}.png"))
    return len(scans)


_glyphs = {}


def glyph_sdf(font_path, digit):
    """Signed distance field (px, <0 inside the ink) of the digit, and its mean half stroke width."""
    key = (font_path, digit)
    if key not in _glyphs:
        font = ImageFont.truetype(font_path, 200)
        img = Image.new("L", (500, 500), 0)
        ImageDraw.Draw(img).text((250, 250), str(digit), font=font, fill=255, anchor="mm")
        img = img.crop(img.getbbox())
        k = GLYPH_H / max(img.height, img.width * 0.9)
        img = img.resize((max(1, round(img.width * k)), max(1, round(img.height * k))), Image.LANCZOS)
        canvas = Image.new("L", (CANVAS, CANVAS), 0)
        canvas.paste(img, ((CANVAS - img.width) // 2, (CANVAS - img.height) // 2))
        ink = np.asarray(canvas) >= 128
        inside = ndimage.distance_transform_edt(ink)
        sdf = ndimage.distance_transform_edt(~ink) - inside
        _glyphs[key] = (sdf.astype(np.float32), 2.0 * inside[ink].mean())
    return _glyphs[key]


def distort(sdf, rng):
    """Random small rotation, shear, aspect change and a smooth elastic displacement field."""
    th = np.radians(rng.uniform(-12, 12))
    sh, ax = rng.uniform(-0.15, 0.15), np.exp(rng.uniform(-0.15, 0.15))
    m = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) @ [[ax, sh], [0, 1 / ax]]
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float32) - CANVAS / 2
    src = np.einsum("ij,jhw->ihw", m, np.stack([yy, xx])) + CANVAS / 2
    sigma, alpha = rng.uniform(10, 20), rng.uniform(2, 6)
    for c in range(2):
        field = ndimage.gaussian_filter(rng.uniform(-1, 1, (CANVAS, CANVAS)), sigma)
        src[c] += field * (alpha / (np.abs(field).max() + 1e-9))
    return ndimage.map_coordinates(sdf, src, order=1, cval=float(CANVAS))


def smooth_noise(rng, h, w, sigma):
    n = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma)
    return n / (n.std() + 1e-9)


def make_photo(rng, font_path, digit):
    """One synthetic photo (uint8 HxWx3 or HxW) and a dict of its parameters."""
    # Frame and digit size.
    h = int(np.exp(rng.uniform(np.log(60), np.log(600))))
    w = int(np.clip(h * np.exp(rng.uniform(-0.3, 0.45)), 60, 800))
    dh = max(rng.uniform(0.10, 0.90) * h, min(14, 0.9 * h))
    # Shape: distorted glyph, stroke offset r (canvas px) on the signed distance field.
    sdf, half = glyph_sdf(font_path, digit)
    target = rng.uniform(0.012, 0.07) * GLYPH_H  # wanted half stroke width, thin pen .. marker
    r = max(target, 0.7 * half) - half
    warped = distort(sdf, rng)
    ys, xs = np.nonzero(warped < r)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    scale = min(dh / (y1 - y0), 0.92 * w / (x1 - x0))
    r = max(r, 0.6 / scale - half)  # keep strokes at least ~1 output pixel wide
    # Place the digit anywhere in the frame, then sample its ink coverage there.
    oy = rng.uniform(0.04 * h, max(0.04 * h, h * 0.96 - (y1 - y0) * scale))
    ox = rng.uniform(0.04 * w, max(0.04 * w, w * 0.96 - (x1 - x0) * scale))
    py, px = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = np.stack([(py - oy) / scale + y0, (px - ox) / scale + x0])
    d = ndimage.map_coordinates(warped, coords, order=1, cval=float(CANVAS))
    ink_a = np.clip(0.5 - (d - r) * scale, 0, 1) * rng.uniform(0.8, 1.0)
    ink_a *= np.clip(1 + 0.08 * smooth_noise(rng, h, w, 1.5), 0, 1)  # uneven ink density
    # Paper reflectance: off-white to yellowish, blotches and fine grain.
    paper = np.array([rng.uniform(0.86, 0.97), 0, 0])
    paper[1] = paper[0] - rng.uniform(0.0, 0.04)
    paper[2] = paper[0] - rng.uniform(0.01, 0.16)
    tex = 0.025 * rng.uniform(0.3, 1) * smooth_noise(rng, h, w, max(2, w / 25))
    tex += rng.uniform(0.008, 0.035) * smooth_noise(rng, h, w, 0.7)
    paper = paper[None, None, :] * (1 + tex[..., None])
    ink_name = str(rng.choice(list(INKS), p=[0.5, 0.35, 0.15]))
    ink = np.array(INKS[ink_name]) * rng.uniform(0.7, 1.3)
    refl = paper * (1 - ink_a[..., None]) + ink[None, None, :] * ink_a[..., None]
    # Illumination: gradient, vignette, a soft elliptical shadow, light colour.
    th = rng.uniform(0, 2 * np.pi)
    g = (np.cos(th) * px / w + np.sin(th) * py / h)
    g = (g - g.min()) / (np.ptp(g) + 1e-9)
    light = 1 - rng.uniform(0.05, 0.45) * g
    rr = ((px / w - 0.5) ** 2 + (py / h - 0.5) ** 2) * 2
    light *= 1 - rng.uniform(0, 0.3) * rr
    shadow = "none"
    if rng.random() < 0.7:
        cy, cx = rng.uniform(-0.3, 1.3, 2) * (h, w)
        ry, rx = rng.uniform(0.3, 1.2, 2) * (h, w)
        dist = np.sqrt(((py - cy) / ry) ** 2 + ((px - cx) / rx) ** 2) - 1
        soft = rng.uniform(0.05, 0.35)
        depth = rng.uniform(0.2, 0.55)
        light *= 1 - depth / (1 + np.exp(np.clip(dist / soft, -50, 50)))
        shadow = f"{depth:.2f}"
    tint = np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.82, 1.0)])  # warm light
    if rng.random() < 0.3:
        tint = np.array([rng.uniform(0.92, 1.0), rng.uniform(0.97, 1.0), 1.0])  # cold light
    img = refl * light[..., None] * tint * rng.uniform(0.95, 1.2)
    # Camera: blur, sensor noise, optional conversion to gray.
    blur = rng.uniform(0.3, 1.1) * max(1.0, h / 250)
    img = ndimage.gaussian_filter(img, (blur, blur, 0))
    img += rng.uniform(0.004, 0.025) * rng.standard_normal(img.shape)
    gray = rng.random() < 0.35
    if gray:
        img = img @ np.array([0.299, 0.587, 0.114])
    out = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    info = dict(width=w, height=h, digit_frac=round((y1 - y0) * scale / h, 3),
                stroke_px=round(2 * (half + r) * scale, 1), ink=ink_name, shadow=shadow,
                blur=round(blur, 2), mode="gray" if gray else "rgb")
    return out, info


def write_photos(outdir, seed, per_class):
    fonts = [os.path.join(FONT_DIR, f) for f in FONTS]
    missing = [f for f in fonts if not os.path.exists(f)]
    if missing:
        sys.exit("make_eval_images: missing fonts (install the packages named in the docstring):\n  "
                 + "\n  ".join(missing))
    rows = []
    for label in range(10):
        d = os.path.join(outdir, "photos", str(label))
        os.makedirs(d, exist_ok=True)
        frng = np.random.default_rng([seed, 1000 + label])  # each font used equally often
        order = np.concatenate([frng.permutation(len(fonts)) for _ in range(per_class // len(fonts) + 1)])
        for i in range(per_class):
            rng = np.random.default_rng([seed, label, i])  # one stream per file: stable subsets
            font = fonts[order[i]]
            out, info = make_photo(rng, font, label)
            stem = os.path.splitext(os.path.basename(font))[0]
            img = Image.fromarray(out)
            if rng.random() < 0.5:
                q = int(rng.integers(35, 96))
                name = f"{i:04d}_{stem}.jpg"
                img.save(os.path.join(d, name), quality=q)
            else:
                q, name = "", f"{i:04d}_{stem}.png"
                img.save(os.path.join(d, name))
            rows.append(dict(file=f"{label}/{name}", label=label, font=stem, jpeg_quality=q, **info))
    with open(os.path.join(outdir, "photos", "manifest.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-class", type=int, default=100, help="photos per label (default 100)")
    a = ap.parse_args()
    if a.per_class < 1:
        ap.error("--per-class must be at least 1")
    t = time.time()
    n = write_lowres(a.outdir)
    print(f"lowres: {2 * n} images ({n} optdigits 8x8 digits x 2 polarities, dark/light) "
          f"in {a.outdir}/lowres ({time.time() - t:.1f} s)")
    t = time.time()
    n = write_blurry(a.outdir, a.seed)
    print(f"blurry: {n} images (the same 8x8 digits upscaled bilinearly, dark on white; "
          f"{'64x64' if a.seed == 1 else '40..100 px with a margin'}) "
          f"in {a.outdir}/blurry ({time.time() - t:.1f} s)")
    t = time.time()
    rows = write_photos(a.outdir, a.seed, a.per_class)
    jpg = sum(r["file"].endswith(".jpg") for r in rows)
    gray = sum(r["mode"] == "gray" for r in rows)
    print(f"photos: {len(rows)} images ({a.per_class} per class, {len(FONTS)} fonts; "
          f"{len(rows) - jpg} png, {jpg} jpg; {gray} gray) in {a.outdir}/photos ({time.time() - t:.1f} s)")


if __name__ == "__main__":
    main()
