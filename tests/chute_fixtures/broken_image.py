"""A chute on `demo/broken:0.1`, whose build failed."""

from chutes.chute import Chute, NodeSelector

chute = Chute(
    username="demo",
    name="broken-image-fixture",
    image="demo/broken:0.1",
    tagline="Its image failed to build",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
)


@chute.cord(public_api_path="/echo", public_api_method="POST")
async def echo(self, text: str) -> str:
    """Return the text."""
    return text
