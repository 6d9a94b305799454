import pandas as pd
import torch

from repro import noise, protocols, runs
from repro.evaluate import evaluate, noisy_input, summarize


def test_identity_denoiser_scores_the_noisy_input_and_repeats_follow_the_protocol():
    p = protocols.get("ssdn")
    table = evaluate(lambda y: y, p, noise.Gaussian(25), datasets=["set14"], n_images=2, progress=False)
    assert len(table) == 2 * 20  # Set14 is repeated 20x under SSDN's protocol
    assert 19.5 < table.psnr_db.mean() < 21.0
    s = summarize(table)
    assert s.n_images.tolist() == [2] and s.n_evaluations.tolist() == [40]


def test_noise_is_seeded_per_image_and_repeat():
    p = protocols.get("noise2noise")
    x = torch.rand(1, 3, 16, 16)
    a = noisy_input(p, noise.Gaussian(25), x, "kodak24", 3, 0)
    b = noisy_input(p, noise.Gaussian(25), x, "kodak24", 3, 0)
    c = noisy_input(p, noise.Gaussian(25), x, "kodak24", 3, 1)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_zs_n2n_protocol_clips_gaussian_but_not_poisson():
    p = protocols.get("zs_n2n")
    x = torch.full((1, 3, 32, 32), 0.02)
    assert float(noisy_input(p, noise.Gaussian(50), x, "kodak24", 0, 0).min()) >= 0.0
    assert float(noisy_input(protocols.get("noise2score"), noise.Gaussian(50), x, "kodak24", 0, 0).min()) < 0.0


def test_gray_sets_stay_gray_under_noise2score_and_become_rgb_under_n2n():
    seen = []
    evaluate(lambda y: seen.append(y.shape[1]) or y, protocols.get("noise2score"), noise.Gaussian(25),
             datasets=["set12"], n_images=1, progress=False)
    evaluate(lambda y: seen.append(y.shape[1]) or y, protocols.get("noise2noise"), noise.Gaussian(25),
             datasets=["set14"], n_images=3, progress=False)  # bridge (gray) is the 3rd image
    assert seen == [1, 3, 3, 3]


def test_padding_to_32_is_applied_and_cropped_back():
    shapes = []

    def denoiser(y):
        shapes.append(tuple(y.shape[-2:]))
        return y

    table = evaluate(denoiser, protocols.get("noise2noise"), noise.Gaussian(25), datasets=["set14"], n_images=1,
                     progress=False)
    assert shapes == [(480, 512)] and len(table) == 1  # baboon is 480x500


def test_a_killed_evaluation_resumes_without_recomputing(tmp_path):
    csv = tmp_path / "per_image.csv"
    calls = []

    def denoiser(y):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run is killed while scoring the third image
        return y

    p = protocols.get("noise2score")
    try:
        evaluate(denoiser, p, noise.Gaussian(25), datasets=["set12"], n_images=5, per_image_csv=csv, progress=False)
    except KeyboardInterrupt:
        pass
    assert len(pd.read_csv(csv)) == 2
    calls.clear()
    table = evaluate(lambda y: calls.append(1) or y, p, noise.Gaussian(25), datasets=["set12"], n_images=5,
                     per_image_csv=csv, progress=False)
    assert len(calls) == 3 and len(table) == 5 and len(pd.read_csv(csv)) == 5
    fresh = evaluate(lambda y: y, p, noise.Gaussian(25), datasets=["set12"], n_images=5, progress=False)
    assert (fresh.psnr_db.values[2:] - table.psnr_db.values[2:] == 0).all()


def test_run_folders_feed_the_summary(results_dir):
    run = runs.Run.open(results_dir, "noise2noise", "demo", method="n2n", noise="gaussian", param="sigma=25",
                        protocol="noise2noise", budget="smoke", device="cpu", iterations=3, train_wall_s=1.0, seed=0)
    evaluate(lambda y: y, protocols.get("noise2noise"), noise.Gaussian(25), datasets=["set14"], n_images=2,
             per_image_csv=run.per_image_csv, progress=False)
    run.finish()
    path = runs.write_summary(results_dir)
    summary = pd.read_csv(path)
    assert list(summary.columns[:14]) == ["paper", "method", "noise", "param", "dataset", "protocol", "budget",
                                          "psnr_db", "ci95_db", "n_images", "iterations", "device", "train_wall_s",
                                          "run"]
    row = summary.iloc[0]
    assert row.paper == "noise2noise" and row.dataset == "set14" and row.n_images == 2 and bool(row.complete)
    assert runs.Run(results_dir / "noise2noise" / "demo").info["git_commit"]
