"""The one list of papers this report reproduces, and what the rest of the package needs to know of each.

A :class:`Paper` names its results folder (``results/<name>/``), the evaluation protocol it is scored
under, the methods its run folders hold, how the shared claims file names it, its book chapter, and its
**inference rule**: ``make_denoiser(model, method=..., **inference)``, the object that turns a saved
network into a denoiser (SSDN's posterior mean, Noise2Score's Tweedie step); ``None`` when the network's
output is the estimate. Run folders, the claims join, the report, :func:`repro.load`, the CLI and the
tests read this list; adding a paper is one entry here.

>>> get("noise2score").inference.__module__
'repro.methods.noise2score'
>>> [p.name for p in with_results()]
['noise2noise', 'neighbor2neighbor', 'ssdn', 'noise2score', 'zs_n2n', 'scratch_n2n', 'noise2void']
>>> get("noise2void").chapter  # its BSD68 table is a section of the SSDN chapter, beside our colour N2V
'ssdn'
>>> get("noise2vo1d")
Traceback (most recent call last):
...
KeyError: "unknown paper 'noise2vo1d'; known: noise2noise, neighbor2neighbor, ssdn, noise2score, zs_n2n, scratch_n2n, noise2void, protocol"
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .methods import noise2score, ssdn


@dataclass(frozen=True)
class Comparison:
    """A paper's central comparison between two of its methods: ``a ≈ b`` (within ``tolerance`` dB) or ``a > b``."""

    a: str
    relation: str  # "≈" or ">"
    b: str
    tolerance: float = 0.1
    source: str = ""

    def holds(self, difference: float) -> bool:
        """Whether ``a − b`` (dB) bears the comparison out.

        >>> Comparison("n2n", "≈", "n2c").holds(-0.05), Comparison("ssdn", ">", "ssdn_mu").holds(-0.2)
        (True, False)
        """
        return abs(difference) <= self.tolerance if self.relation == "≈" else difference > 0

    def __str__(self) -> str:
        return f"{self.a} {self.relation} {self.b}"


@dataclass(frozen=True)
class Paper:
    name: str  # results/<name>/, run.json "paper", the book chapter's file name
    title: str
    protocol: str | None  # repro.protocols name its runs are scored under
    methods: tuple[str, ...]  # the methods of its own tables (diagnostic variants add others); claims use these names
    claims_prefix: str | None = None  # how the shared claims file's `paper` field starts for it
    inference: Callable | None = None  # make_denoiser(model, method=..., **inference); None: the output as is
    in_chapter: str | None = None  # a section of another paper's chapter instead of a chapter of its own
    study: bool = False  # run folders that measure the protocol itself, not a paper's rows of the summary
    headline: tuple[str, str, str, str] | None = None  # (method, noise, param, dataset) of its main claim
    comparison: Comparison | None = None  # the comparison its main table makes

    @property
    def chapter(self) -> str | None:
        return None if self.study else (self.in_chapter or self.name)


PAPERS: tuple[Paper, ...] = (
    Paper("noise2noise", "Noise2Noise (Lehtinen et al., ICML 2018)", "noise2noise",
          ("n2n", "n2c", "bm3d", "anscombe_bm3d"), claims_prefix="Noise2Noise (Lehtinen",
          headline=("n2n", "gaussian", "sigma=25", "kodak24"),
          comparison=Comparison("n2n", "≈", "n2c", 0.1, "Table 1: noisy targets within ~0.1 dB of clean ones")),
    Paper("neighbor2neighbor", "Neighbor2Neighbor (Huang et al., CVPR 2021)", "noise2noise", ("neighbor2neighbor",),
          claims_prefix="Neighbor2Neighbor (Huang", headline=("neighbor2neighbor", "gaussian", "sigma=25", "kodak24"),
          comparison=Comparison("neighbor2neighbor", "≈", "n2n", 0.5,
                                "Table 1: trained on single noisy images, within a few tenths of a dB of the N2N "
                                "baseline trained on noisy pairs (read from a secondary note, unverified here)")),
    Paper("ssdn", "High-Quality Self-Supervised Deep Image Denoising (Laine et al., NeurIPS 2019)", "ssdn",
          ("ssdn", "ssdn_unknown_sigma", "ssdn_diag", "ssdn_mu", "n2c", "n2n", "n2v"),
          claims_prefix="High-Quality Self-Supervised Deep Image Denoising (Laine", inference=ssdn.make_denoiser,
          headline=("ssdn", "gaussian", "sigma=25", "kodak24"),
          comparison=Comparison("ssdn", ">", "ssdn_mu", source="Table 1: the posterior mean beats the prior mean")),
    Paper("noise2score", "Noise2Score (Kim & Ye, NeurIPS 2021)", "noise2score",
          ("noise2score", "noise2score_unknown_sigma", "bm3d"), claims_prefix="Noise2Score (Kim & Ye",
          inference=noise2score.make_denoiser, headline=("noise2score", "gaussian", "sigma=25", "cbsd68"),
          comparison=Comparison("noise2score", ">", "bm3d", source="Table 2: above BM3D at sigma 25")),
    Paper("zs_n2n", "Zero-Shot Noise2Noise (Mansour & Heckel, CVPR 2023)", "zs_n2n", ("zs-n2n",),
          headline=("zs-n2n", "gaussian", "sigma=25", "kodak24")),
    Paper("scratch_n2n", "Noise2Noise from scratch (our hand-written framework)", None,
          ("scratch_n2n", "torch_twin_n2n"), headline=("scratch_n2n", "gaussian", "sigma=25", "kodak24"),
          comparison=Comparison("scratch_n2n", "≈", "torch_twin_n2n", 0.1,
                                "ours: the hand-written gradients train as autograd's do")),
    Paper("noise2void", "Noise2Void (Krull et al., CVPR 2019)", "noise2void", ("n2v", "bm3d", "n2n", "n2c"),
          claims_prefix="Noise2Void (Krull", in_chapter="ssdn", headline=("n2v", "gaussian", "sigma=25", "bsd68"),
          comparison=Comparison("bm3d", ">", "n2v",
                                source="Sec. 4.1 / Fig. 4: BM3D 28.59 dB above N2V's 27.71 on BSD68")),
    Paper("protocol", "The evaluation protocol's own effects", "noise2noise", ("n2n",), study=True),
)
_BY_NAME = {p.name: p for p in PAPERS}


def get(name: str) -> Paper:
    """The registered paper ``name``; a KeyError naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown paper '{name}'; known: {', '.join(_BY_NAME)}") from None


def with_results() -> list[Paper]:
    """Papers with a results folder of their own and a row in the summary, in the book's order."""
    return [p for p in PAPERS if not p.study]


def studies() -> list[Paper]:
    return [p for p in PAPERS if p.study]
