"""The published cloud pattern's figures, in one place: what it claimed and on what.

The 1,584-image bucket (LFW names starting with A, plus George W. Bush) preprocessed with PyWren on
IBM Cloud Functions; the companion article gives about 2,200 s "on a single computer" and about 35 s
on Cloud Functions, and the headline "up to 50 times faster". Printed as published, never measured
by anyone since.
"""

from __future__ import annotations

IMAGES = 1584
SINGLE_COMPUTER_S = 2200.0
SERVERLESS_S = 35.0
CLAIM_X = 50.0
CLAIM = "up to 50x"
PLATFORM = "ibm_cloud_functions"
SOURCE = "the code pattern's companion article (figures as published, never measured by anyone since)"

#: The same figures as one mapping, for tables and JSON.
PATTERN = {
    "images": IMAGES,
    "single_computer_s": SINGLE_COMPUTER_S,
    "serverless_s": SERVERLESS_S,
    "claim": CLAIM,
    "platform": PLATFORM,
    "source": SOURCE,
}
