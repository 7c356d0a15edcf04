"""Popular client tools: what thousands of independent customers present alike.

A tool is one user agent, one TLS (JA4) fingerprint and one system-prompt template.
Benign generators give them to their users (``regular`` accounts on the coding agent,
the ``popular_agent`` group); a campaign with ``camouflage = "<tool>"`` presents the
same three values, so that none of them separates it from the tool's users.

>>> sorted(POPULAR_TOOLS)
['codeagent', 'ideassist', 'researchagent']
>>> POPULAR_TOOLS["codeagent"] is CODING_AGENT
True
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["CODING_AGENT", "POPULAR_TOOLS", "RESEARCH_AGENT", "SDK_PYTHON", "ToolName"]

#: The popular coding agent: one user agent, one TLS fingerprint, one system-prompt
#: template shared by thousands of independent customers.
CODING_AGENT: Final = {
    "user_agent": "codeagent/2.4.1 node/22",
    "tls_ja4": "t13d1516h2_8daaf6152771_e5627efa2ab1",
    "template": "tpl-codeagent-system-v7",
}
#: An IDE assistant (a second popular tool, so scenarios can vary the camouflage).
IDE_ASSISTANT: Final = {
    "user_agent": "ideassist/1.18.0 electron/31",
    "tls_ja4": "t13d1517h2_8daaf6152771_9b2f0c7e41d3",
    "template": "tpl-ideassist-system-v3",
}
#: A deep-research agent: its users ask for long, reasoning-heavy answers by design, so
#: their traffic is harvest-like without any harvesting (a benign look-alike).
RESEARCH_AGENT: Final = {
    "user_agent": "deepresearch/0.7.2 python/3.12",
    "tls_ja4": "t13d1715h2_5b57614c22b0_a41c7d09e2f6",
    "template": "tpl-deepresearch-system-v2",
}
#: The official Python SDK (also what a campaign's harvesting scripts present).
SDK_PYTHON: Final = {
    "user_agent": "llm-sdk-python/1.40.0",
    "tls_ja4": "t13d1715h2_5b57614c22b0_3d5424432f57",
}

ToolName = Literal["codeagent", "ideassist", "researchagent"]
POPULAR_TOOLS: Final[dict[str, dict[str, str]]] = {
    "codeagent": CODING_AGENT,
    "ideassist": IDE_ASSISTANT,
    "researchagent": RESEARCH_AGENT,
}
