"""Prints a lot to stdout and stderr while importing, then defines a valid chute."""

import sys

from chutes.chute import Chute, NodeSelector

for line in range(200):
    print(f"noise on stdout {line}")
    print(f"noise on stderr {line}", file=sys.stderr)
print("NOISY-STDOUT-MARKER")
print("NOISY-STDERR-MARKER", file=sys.stderr)

chute = Chute(
    username="demo",
    name="noisy-fixture",
    image="demo/hello:0.1",
    tagline="Talks a lot",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
)


@chute.cord(public_api_path="/echo", public_api_method="POST")
async def echo(self, text: str) -> str:
    """Return the text."""
    return text
