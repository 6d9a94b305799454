"""Experiment recipes, one module per paper: data, model, loss, sampler, schedule and run folder for a setting.

``repro.methods`` holds what a paper defines (losses, inference rules, hyper-parameters with sources);
a recipe here puts it to work through :func:`repro.pipeline.train_and_evaluate`. Notebooks call one
recipe and draw figures from :mod:`repro.report`.
"""
