"""A chute on the public vLLM image, deployed with --public by a user without the permission."""

from chutes.chute import Chute, NodeSelector

chute = Chute(
    username="demo",
    name="public-fixture",
    image="chutes/vllm:0.10.1",
    tagline="Wants to be public",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
)


@chute.cord(public_api_path="/echo", public_api_method="POST")
async def echo(self, text: str) -> str:
    """Return the text."""
    return text
