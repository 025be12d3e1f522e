"""A kernel from outside facebench: HOG at upsample 0 and nothing else, in a few lines.

Use it with `facebench run --kernel optimized,upsample0:Upsample0` with this file's folder on
PYTHONPATH, or register it under the `facebench.kernels` entry-point group of your own package. It
declares what the harness records in the manifest (docs/kernels.md); all else is the faithful
kernel's: the same detector, 68-point landmarks and openface crop. Unlike the built-in `hog0` it never
tries upsample 1, so a small face is lost, not slower: the run's quality.parquet shows how many.
"""

from pipelines.kernels.hog import HogKernel


class Upsample0(HogKernel):
    name = "upsample0"  # what the tables, quality.parquet and compare call it
    version = "1"  # bump it when the output changes
    upsample = 0  # the one choice it changes
