"""A node selector no GPU matches: a4000 only, but at least 140 GB per GPU."""

from chutes.chute import Chute, NodeSelector

chute = Chute(
    username="demo",
    name="bad-selector-fixture",
    image="demo/hello:0.1",
    tagline="Nothing can run this",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=140, include=["a4000"]),
)


@chute.cord(public_api_path="/echo", public_api_method="POST")
async def echo(self, text: str) -> str:
    """Return the text."""
    return text
