"""A new chute on four GPUs: the quadratic fee counts them twice (fee-exactness tests)."""

from chutes.chute import Chute, NodeSelector

chute = Chute(
    username="demo",
    name="four-gpu-fixture",
    image="demo/hello:0.1",
    tagline="A four-GPU fixture chute",
    readme="# four-gpu-fixture\n\nUsed by the fee tests.",
    node_selector=NodeSelector(gpu_count=4, min_vram_gb_per_gpu=16),
    shutdown_after_seconds=300,
)


@chute.cord(public_api_path="/echo", public_api_method="POST")
async def echo(self, text: str) -> str:
    """Return the text, prefixed."""
    return f"four, {text}"
