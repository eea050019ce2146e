#!/usr/bin/env python3
"""Rewrites a screenshot (8-bit RGB or RGBA PNG, not interlaced: what
headless Chromium's --screenshot writes) as a palette PNG of at most N
colours (those given with --keep, then a median cut of the image's;
each pixel takes the nearest, no dithering), compressed at zlib's
level 9.
Standard library only. The README's live-view screenshot is made small
with it (docs/live-view.md, "The screenshot").

    python3 scripts/png_palette.py shot.png out.png [--colours 128] [--keep '#c0392b,...']
"""
import argparse
import struct
import sys
import zlib


def read_rgb(path):
    """The image's width, height and pixels as a list of (r, g, b)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if header is None:
        sys.exit(f"{path}: no IHDR chunk")
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in (2, 6) or interlace:
        sys.exit(f"{path}: only 8-bit RGB or RGBA, not interlaced (depth {depth}, type {colour_type})")
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    previous = bytearray(stride)
    pixels = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        pixels.extend(tuple(line[i:i + 3]) for i in range(0, stride, bpp))
        previous = line
    return width, height, pixels


def median_cut(histogram, colours):
    """At most `colours` boxes of the histogram's colours, each split
    along its longest side at its pixel-weighted median; returns the
    palette (each box's weighted mean)."""
    boxes = [sorted(histogram.items())]

    def score(box):
        spread = max(max(c[k] for c, _ in box) - min(c[k] for c, _ in box) for k in range(3))
        return spread * sum(n for _, n in box) if len(box) > 1 else -1

    while len(boxes) < colours:
        boxes.sort(key=score)
        box = boxes.pop()
        if score(box) <= 0:
            boxes.append(box)
            break
        axis = max(range(3), key=lambda k: max(c[k] for c, _ in box) - min(c[k] for c, _ in box))
        box.sort(key=lambda item: item[0][axis])
        half, running, cut = sum(n for _, n in box) / 2, 0, 1
        for i, (_, n) in enumerate(box):
            running += n
            if running >= half:
                cut = min(max(i + 1, 1), len(box) - 1)
                break
        boxes.extend([box[:cut], box[cut:]])
    palette = []
    for box in boxes:
        total = sum(n for _, n in box)
        palette.append(tuple(round(sum(c[k] * n for c, n in box) / total) for k in range(3)))
    return palette


def nearest(palette, colours):
    """Each colour's index of the nearest palette entry (Euclidean RGB)."""
    index = {}
    for c in colours:
        index[c] = min(
            range(len(palette)),
            key=lambda i: (palette[i][0] - c[0]) ** 2 + (palette[i][1] - c[1]) ** 2 + (palette[i][2] - c[2]) ** 2,
        )
    return index


def hex_colour(text):
    text = text.strip().lstrip("#")
    if len(text) != 6:
        raise argparse.ArgumentTypeError(f"{text!r}: a colour is #rrggbb")
    return tuple(int(text[i:i + 2], 16) for i in (0, 2, 4))


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_palette_png(path, width, height, palette, rows):
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(chunk(b"IHDR", header))
        out.write(chunk(b"PLTE", b"".join(bytes(c) for c in palette)))
        out.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        out.write(chunk(b"IEND", b""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--colours", type=int, default=128, help="2 to 256 (default 128)")
    parser.add_argument(
        "--keep",
        type=lambda t: [hex_colour(c) for c in t.split(",") if c.strip()],
        default=[],
        help="#rrggbb,... colours the palette must hold (a legend's swatches, a chart's "
        "lines: too few pixels for the median cut to keep them)",
    )
    args = parser.parse_args()
    if not 2 <= args.colours <= 256 or len(args.keep) >= args.colours:
        sys.exit(f"--colours {args.colours}: a palette PNG holds 2 to 256 colours, more than --keep's")
    width, height, pixels = read_rgb(args.input)
    histogram = {}
    for p in pixels:
        histogram[p] = histogram.get(p, 0) + 1
    palette = args.keep + median_cut(histogram, args.colours - len(args.keep))
    index = nearest(palette, histogram)
    rows = [[index[p] for p in pixels[y * width:(y + 1) * width]] for y in range(height)]
    write_palette_png(args.output, width, height, palette, rows)


if __name__ == "__main__":
    main()
