"""A chute with one job and no cords."""

from chutes.chute import Chute, NodeSelector
from chutes.chute.job import Port

chute = Chute(
    username="demo",
    name="jobs-fixture",
    image="demo/hello:0.1",
    tagline="A chute that only runs a job",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16),
)


@chute.job(timeout=600, upload=False, ports=[Port(name="web", port=8080, proto="http")])
async def crunch(self, **job_data) -> dict:
    """Pretend to crunch numbers."""
    return {"done": True}
