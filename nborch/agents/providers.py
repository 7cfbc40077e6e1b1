"""Which model providers an agent can call, read from the credentials its spec lets through.

A per-provider limit (``DaskExecutor(limits={"anthropic": 4})``) must hold whatever agent calls
the provider: ``claude`` calls Anthropic, ``codex`` OpenAI, and ``aider`` or ``cline`` whichever
key they find, so they count against every provider their allow-list names (a limit is then
never exceeded, at the price of holding a lease an attempt may not use).

>>> from nborch.agents import get
>>> sorted(providers_of(get("claude"))), sorted(providers_of(get("cline")))
(['anthropic'], ['anthropic', 'google', 'openai', 'openrouter'])
"""

from __future__ import annotations

from .spec import AgentSpec

__all__ = ["PREFIXES", "providers_of"]

# Credential-variable prefixes and the provider they belong to.
PREFIXES: tuple[tuple[str, str], ...] = (
    ("ANTHROPIC_", "anthropic"), ("CLAUDE_", "anthropic"),
    ("OPENAI_", "openai"), ("CODEX_", "openai"),
    ("GEMINI_", "google"), ("GOOGLE_", "google"),
    ("OPENROUTER_", "openrouter"), ("DEEPSEEK_", "deepseek"), ("DASHSCOPE_", "dashscope"),
    ("GH_", "github"), ("GITHUB_", "github"), ("COPILOT_", "github"),
    ("CURSOR_", "cursor"),
)  # fmt: skip


def providers_of(spec: AgentSpec) -> frozenset[str]:
    """The providers whose credentials ``spec``'s allow-list passes to the agent."""
    return frozenset(provider for pattern in spec.env_allow for prefix, provider in PREFIXES
                     if pattern.startswith(prefix))  # fmt: skip
