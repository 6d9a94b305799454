"""No result typed into the book's prose: every dB value and measured time comes from results/ at build time.

The chapters compute their numbers in a hidden code cell and paste them into sentences with MyST-NB's
``{glue:text}`` role. This test reads ``book/*.md`` as text and flags, by file and line, any decimal dB
value (``0.44 dB``, ``−0.44 dB``, ``1.80 / 2.39 / 1.48 dB``, ``0.03–0.06 dB``) or measured duration
(``56 minutes``, ``1 h 30 min``, ``0.11 s``) left in the prose: outside code cells and code blocks, inline
code, math, glue roles and HTML comments. A number quoted from a source that is not one of our runs (an
official README's training time) is listed in ``QUOTED`` with the reason it may stay.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"

NUMBER = r"[−-]?\d+(?:[.,]\d+)*"
# A run of numbers joined by separators and ending in dB: "0.44 dB", "1.80 / 2.39 / 1.48 dB", "0.03–0.06 dB",
# "30.92 vs 31.02 dB", "23.04 (CBSD68), 23.01 (Kodak) and 22.96 dB". At least one of them has decimals.
JOIN = r"(?:\s*(?:\([^()]{1,20}\))?\s*(?:[–—/,]|-|and|or|to|vs\.?|against)\s*)"
DB_RUN = re.compile(rf"(?<![\w.]){NUMBER}(?:{JOIN}{NUMBER})*\s*dB\b")
# A measured duration: "56 minutes", "1 h 42 min", "0.11 s", "30.4 s per image".
DURATION = re.compile(r"(?<![\w.×/])\d+(?:\.\d+)?\s*(?:h|hours?|min|minutes?|s|seconds?)(?![\w²³])"
                      r"(?:\s+\d+(?:\.\d+)?\s*(?:min|minutes?|s))?")

# Numbers that are not ours and may stay typed: (file, the phrase around it, why). The phrase must hold
# the flagged text and appear on its line.
QUOTED = [
    ("noise2noise.md", "about 7.5 h on a", "the official README's training time on a Titan V, a source's statement"),
    ("noise2noise.md", "about 0.2 dB worse on Gaussian", "the paper's own statement of what its U-Net costs "
                                                         "against RED30 (Sec. 3), not a run"),
]


def quoted(name: str, line: str, text: str) -> bool:
    return any(name == file and phrase in line and text in phrase for file, phrase, _ in QUOTED)


def prose_lines(text: str):
    """(line number, prose) for each line of a MyST notebook, with code, math, roles and comments blanked."""
    in_fence, fence, in_math = False, "", False
    lines = text.split("\n")
    start = 0
    if lines and lines[0].strip() == "---":  # the jupytext front matter
        start = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0) + 1
    text_body = "\n".join("" if i < start else line for i, line in enumerate(lines))
    text_body = re.sub(r"<!--.*?-->", lambda m: "\n" * m.group(0).count("\n"), text_body, flags=re.S)
    for number, line in enumerate(text_body.split("\n"), 1):
        stripped = line.strip()
        if in_fence:
            if stripped.startswith(fence) and stripped.strip("`~") == "":
                in_fence = False
            continue
        match = re.match(r"(`{3,}|~{3,})", stripped)
        if match:
            in_fence, fence = True, match.group(1)
            continue
        if stripped.startswith("$$"):
            in_math = not in_math if stripped == "$$" or not stripped.endswith("$$") or len(stripped) == 2 else in_math
            continue
        if in_math:
            continue
        line = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", line)  # roles: {glue:text}`...`, {cite}`...`, {doc}`...`
        line = re.sub(r"`[^`]*`", " ", line)  # inline code
        line = re.sub(r"\$[^$]+\$", " ", line)  # inline math
        line = re.sub(r"\]\([^)]*\)", "]", line)  # link targets
        yield number, line


def typed_numbers(path: Path) -> list[tuple[int, str]]:
    """Every typed dB value or measured duration in the prose of one chapter, as (line, text)."""
    found = []
    for number, line in prose_lines(path.read_text()):
        for pattern in (DB_RUN, DURATION):
            for match in pattern.finditer(line):
                text = match.group(0).strip()
                if pattern is DB_RUN and not re.search(r"\d[.,]\d", text):
                    continue  # "3 dB above the noisy input": an integer from a derivation, not a run
                if quoted(path.name, line, text):
                    continue
                found.append((number, text))
    return found


def count_values(found) -> int:
    """How many numbers the flagged texts hold ("1.80 / 2.39 / 1.48 dB" is three)."""
    return sum(len(re.findall(r"\d+(?:\.\d+)?", text)) for _, text in found)


def test_the_scanner_finds_typed_results_and_ignores_code_math_and_glue(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("---\njupytext: {}\n---\n"
                    "N2N is 0.44 dB under the claim, 1.80 / 2.39 / 1.48 dB and 0.03–0.06 dB.\n"
                    "A step took 0.11 s, about 56 minutes in all, 1 h 42 min of wall time.\n"
                    "Under by {glue:text}`gap:.2f` dB, `0.5 dB` in code, $0.5\\,\\mathrm{dB}$ in math.\n"
                    "```{code-cell} ipython3\nprint('31.95 dB in 12 minutes')\n```\n"
                    "$$\n10.5 dB\n$$\n<!-- 3.2 dB\nin a comment -->\n"
                    "3000 steps of 64×64 crops at σ = 25; the ramp-down of the last 30 %; 3 dB above the input.\n"
                    "Kodak −0.85 to −0.86 dB.\n")
    found = typed_numbers(page)
    assert [line for line, _ in found] == [4, 4, 4, 5, 5, 5, 16]
    texts = [text for _, text in found]
    assert texts[:3] == ["0.44 dB", "1.80 / 2.39 / 1.48 dB", "0.03–0.06 dB"]
    assert texts[3:6] == ["0.11 s", "56 minutes", "1 h 42 min"]
    assert texts[6] == "−0.85 to −0.86 dB"
    assert count_values(found) == 12


CHAPTERS = sorted(BOOK.glob("*.md"))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_no_result_is_typed_into_the_prose(chapter):
    found = typed_numbers(chapter)
    assert not found, (f"{len(found)} typed result(s) in {chapter.name}; compute them from results/ and paste "
                       "them with {glue:text} (see repro.report.glue):\n"
                       + "\n".join(f"  book/{chapter.name}:{line}: {text}" for line, text in found))
