"""Blocks at import time."""

import time

time.sleep(600)
