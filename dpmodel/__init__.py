"""dpmodel: analytical performance model and optimizer for dual-path KV-cache loading.

Where does KV-cache loading bottleneck a disaggregated (prefill/decode) LLM cluster, and how
should the scheduler split KV reads between the prefill-side and decode-side storage paths?
"""

from .version import __version__

__all__ = ["PolicyTable", "__version__"]


def __getattr__(name: str):
    """``from dpmodel import PolicyTable`` without importing the solvers at package import."""
    if name == "PolicyTable":
        from .policy import PolicyTable

        return PolicyTable
    raise AttributeError(name)
