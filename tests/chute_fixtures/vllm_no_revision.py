"""A vllm chute without a pinned revision: pre-flight must block it."""

from chutes.chute import Chute, NodeSelector

chute = Chute(
    username="demo",
    name="vllm-no-revision-fixture",
    image="chutes/vllm:0.10.1",
    tagline="vllm without a revision",
    standard_template="vllm",
    node_selector=NodeSelector(gpu_count=1, min_vram_gb_per_gpu=48),
)


@chute.cord(public_api_path="/v1/completions", public_api_method="POST")
async def complete(self, prompt: str) -> str:
    """Complete a prompt."""
    return prompt
