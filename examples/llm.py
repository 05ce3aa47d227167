"""A two-GPU chute on the sandbox's public vLLM image: its deployment fee is higher.

cd examples && CHUTES_CONFIG_PATH=../sandbox.ini chutes deploy llm:chute --accept-fee
"""

from chutes.chute import Chute, NodeSelector

chute = Chute(
    username="demo",
    name="llm-example",
    image="chutes/vllm:0.10.1",
    tagline="A pretend two-GPU language model",
    standard_template="vllm",
    revision="1" * 40,
    node_selector=NodeSelector(gpu_count=2, min_vram_gb_per_gpu=48, exclude=["b200", "mi300x"]),
)


@chute.cord(public_api_path="/v1/chat/completions", public_api_method="POST", stream=True)
async def chat(self, prompt: str) -> str:
    """Answer a prompt."""
    yield prompt
