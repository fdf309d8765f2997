from __future__ import annotations

from app.ws.stream import PhraseBuffer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def feed(buffer: PhraseBuffer, clock: FakeClock, tokens: list[str], step: float) -> list[str]:
    out = []
    for token in tokens:
        clock.now += step
        phrase = buffer.push(token)
        if phrase:
            out.append(phrase)
    rest = buffer.flush()
    return [*out, rest] if rest else out


def test_first_word_goes_out_at_once_then_phrases_per_interval() -> None:
    clock = FakeClock()
    buffer = PhraseBuffer(interval_s=0.1, min_chars=10, clock=clock)
    tokens = [" Ma", "na", "jemen", " infra", "struktur", " TI", " adalah", " proses", " yang"] * 4
    phrases = feed(buffer, clock, tokens, step=0.02)
    assert "".join(phrases) == "".join(tokens)
    assert phrases[0] == " Manajemen "  # released as soon as one word is complete
    assert all(p.endswith(" ") for p in phrases[:-1])  # never split inside a word
    assert len(phrases) < len(tokens) / 3


def test_nothing_is_released_before_a_word_boundary() -> None:
    clock = FakeClock()
    buffer = PhraseBuffer(interval_s=0.0, min_chars=1, clock=clock)
    assert buffer.push("Super") is None and buffer.push("kalifragilistik") is None
    assert buffer.push(" x") == "Superkalifragilistik "
    assert buffer.flush() == "x"


def test_long_stalls_do_not_hold_a_huge_buffer() -> None:
    clock = FakeClock()
    buffer = PhraseBuffer(interval_s=10.0, min_chars=5, clock=clock)
    buffer.push("a ")
    released = [buffer.push(f"kata{i} ") for i in range(20)]
    assert any(released)  # the size valve releases even though the interval has not passed


def test_a_whole_answer_arriving_at_once_is_cut_into_phrases() -> None:
    clock = FakeClock()
    buffer = PhraseBuffer(interval_s=0.08, min_chars=24, clock=clock)
    answer = " ".join(f"kata{i}" for i in range(120))  # a cached answer: one delta, ~800 chars
    phrases = [buffer.push(answer)]
    while (more := buffer.take()) is not None:
        phrases.append(more)
    phrases.append(buffer.flush())
    assert "".join(p for p in phrases if p) == answer
    assert len(phrases) >= 4 and all(p and len(p) <= 8 * 24 for p in phrases)
    assert all(p.endswith(" ") for p in phrases[:-1])  # never split inside a word
