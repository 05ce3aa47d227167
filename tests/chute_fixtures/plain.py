"""A one-cord chute on the seeded `demo/hello:0.1` image (deploy-flow tests)."""

from chutes.chute import Chute, NodeSelector

chute = Chute(
    username="demo",
    name="plain-fixture",
    image="demo/hello:0.1",
    tagline="A plain fixture chute",
    readme="# plain-fixture\n\nUsed by the deploy tests.",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
    shutdown_after_seconds=300,
)


@chute.cord(public_api_path="/echo", public_api_method="POST")
async def echo(self, text: str) -> str:
    """Return the text, prefixed."""
    return f"plain, {text}"
