"""Experiment recipes, one module per paper: data, model, loss, sampler, schedule and run folder for a setting.

``repro.methods`` holds what a paper defines (losses, inference rules, hyper-parameters with sources) and
imports no run or evaluation code; a recipe here puts it to work. The trained methods go through
:func:`repro.pipeline.train_and_evaluate`; ZS-N2N (:mod:`.zs_n2n`, a fit per image) and the from-scratch
framework (:mod:`.scratch_n2n`, its own training loop) write their run folders themselves. Notebooks call
one recipe and draw figures from :mod:`repro.report`; the protocol study (how much each evaluation choice
moves PSNR) is :mod:`.protocol`.
"""
