"""A chute on `demo/tts:0.2`, which is still building."""

from chutes.chute import Chute, NodeSelector

chute = Chute(
    username="demo",
    name="not-ready-fixture",
    image="demo/tts:0.2",
    tagline="Its image is still building",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
)


@chute.cord(public_api_path="/speak", public_api_method="POST")
async def speak(self, text: str) -> str:
    """Pretend to speak."""
    return text
