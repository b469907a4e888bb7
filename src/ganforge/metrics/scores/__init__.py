"""Scores over features or pixels, one module each: FD, KID, IS, precision/recall, SWD, MS-SSIM, memorisation..."""
