"""A minimal chute that deploys against the sandbox's seeded `demo/hello:0.1` image.

chutes-tui sandbox config > sandbox.ini
cd examples && CHUTES_CONFIG_PATH=../sandbox.ini chutes deploy hello:chute --accept-fee
"""

from chutes.chute import Chute, NodeSelector

chute = Chute(
    username="demo",
    name="hello-example",
    image="demo/hello:0.1",
    tagline="Echoes what you send it",
    readme="# hello-example\n\nA one-cord chute for trying deploys against the sandbox.",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
    shutdown_after_seconds=300,
)


@chute.cord(public_api_path="/echo", public_api_method="POST")
async def echo(self, text: str) -> str:
    """Return the text, prefixed."""
    return f"hello, {text}"
