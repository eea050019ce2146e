#!/usr/bin/env python3
"""Prints how many distinct colours a PNG holds (8-bit RGB or RGBA,
non-interlaced: what headless Chromium's --screenshot writes). Standard
library only. The live view's browser test uses it to tell a drawn page
from a blank one.

    python3 scripts/png_colours.py shot.png
"""
import sys

from png_palette import read_rgb


def colours(path):
    _, _, pixels = read_rgb(path)
    return len(set(pixels))


if __name__ == "__main__":
    print(colours(sys.argv[1]))
