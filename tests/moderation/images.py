"""Test photos the project may ship: scikit-image's bundled sample images (public domain or CC0).

Their open-NSFW scores (YAHOO preprocessing, opennsfw2 0.19.0 with the installed weights) are known,
so a test that needs a flagged frame lowers the review or block threshold below a known score
instead of using explicit imagery. Uploads send the files' exact bytes: re-encoding moves the scores.
"""

from pathlib import Path

import skimage.data

SKIMAGE_DATA = Path(skimage.data.__file__).parent

ASTRONAUT = SKIMAGE_DATA / "astronaut.png"  # Eileen Collins, NASA (public domain); one face, estimated age 33.1
COFFEE = SKIMAGE_DATA / "coffee.png"  # CC0, Rachel Michetti; no face
CHELSEA = SKIMAGE_DATA / "chelsea.png"  # CC0, Stefan van der Walt (a cat)

NSFW_SCORES = {ASTRONAUT: 0.03170, COFFEE: 0.01295, CHELSEA: 0.00015}
ASTRONAUT_FACE = [179, 83, 266, 170]  # left, top, right, bottom
