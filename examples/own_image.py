"""A chute on an image of its own: build it first (from the dashboard: 2, then b).

cd examples && chutes-tui --no-ui --sandbox build own_image:chute --wait --yes
cd examples && chutes-tui --no-ui --sandbox deploy own_image:chute --yes --accept-fee --max-fee 1
"""

from chutes.chute import Chute, NodeSelector
from chutes.image import Image

image = (
    Image(username="demo", name="own-image", tag="0.1", readme="# own-image\n\nBuilt here.")
    .from_base("parachutes/python:3.12")
    .add("requirements.txt", "/app/requirements.txt")
    .run_command("pip install -r /app/requirements.txt")
)

chute = Chute(
    username="demo",
    name="own-image-example",
    image=image,
    tagline="Counts the words you send it",
    readme="# own-image-example\n\nA chute whose image is built from this directory.",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
    shutdown_after_seconds=300,
)


@chute.cord(public_api_path="/count", public_api_method="POST")
async def count(self, text: str) -> int:
    """How many words the text has."""
    return len(text.split())
