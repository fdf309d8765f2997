"""Token usage and cost of a turn, summed over its LLM calls and itemized per call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from app.core.config import Settings
from app.protocol.messages import ModelPricing, TokenUsage, UsageItem

Purpose = Literal["condense", "answer", "personalize", "translate", "rerank"]


def usage_item(
    settings: Settings, purpose: Purpose, model: str, inp: int, out: int, counted: bool = False
) -> UsageItem:
    per_in, per_out = settings.price_of(model)
    cost = inp / 1000 * per_in + out / 1000 * per_out
    return UsageItem(
        purpose=purpose,
        model=model,
        input_tokens=inp,
        output_tokens=out,
        cost_usd=round(cost, 8),
        counted=counted,
    )


def token_usage(
    settings: Settings, items: Sequence[UsageItem], priced_model: str | None
) -> TokenUsage:
    """The protocol's ``token_usage``: totals, the price of the model that wrote the answer."""
    inp = sum(i.input_tokens for i in items)
    out = sum(i.output_tokens for i in items)
    per_in, per_out = settings.price_of(priced_model) if priced_model else (0.0, 0.0)
    total_cost = round(sum(i.cost_usd for i in items), 8)
    return TokenUsage(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=inp + out,
        model_pricing=ModelPricing(
            input_cost_per_1k=per_in, output_cost_per_1k=per_out, total_cost=total_cost
        ),
        calls=list(items),
    )
