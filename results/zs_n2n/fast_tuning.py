"""How the fast preset (zsn2n.FAST) was chosen: fits of one Kodak image with candidate settings, the PSNR
difference to the committed 3000-step full-image fit of the same noisy image (results/zs_n2n/sigma25_*)
every `every` steps, of the raw weights and of their moving average. One process, 1 thread, on the
2-core machine shared with other jobs (fit_cpu_s: CPU seconds of the optimisation steps alone).

    OMP_NUM_THREADS=1 .venv/bin/python results/zs_n2n/fast_tuning.py '{"steps":3000,"crop":16,"batch":16,"lr":2e-3,"ema":0.995,"offset":0.5}' kodak24 2 500

Prints one line per image ("step:delta/ema-delta"); fast_tuning.csv holds every line printed during the
tuning (harness fast_tuning.py), and six earlier whole-fit runs through zsn2n.fit (harness zsn2n.fit,
no average), in the order they ran. The loop is zsn2n.fit's (bf16 autocast, same crops and averaging);
"margin" leaves crop borders out of the loss (zsn2n.loss_fast), tried once and not kept.
"""
import sys, json, time
import pandas as pd, torch
from repro import data, metrics, noise, protocols
from repro.evaluate import noisy_input
from repro.methods import zsn2n
from repro.models.zsn2n import ZSN2NNet
from repro.seeding import seeded
protocol = protocols.get("zs_n2n"); g = noise.Gaussian(25)
cfg = json.loads(sys.argv[1]); cfg2 = {k: cfg.pop(k) for k in list(cfg) if k in ("ema", "margin", "offset")}; ds = sys.argv[2]; idx = [int(i) for i in sys.argv[3].split(",")]
every = int(sys.argv[4]) if len(sys.argv) > 4 else 250
ref = pd.read_csv(f"results/zs_n2n/sigma25_{ds}/per_image.csv", dtype={"image": str}).set_index("image").psnr_db
imgs = data.load(ds)
for i in idx:
    clean = protocol.prepare(imgs[i].pixels, ds); y = noisy_input(protocol, g, clean, ds, i, 0)
    s = zsn2n.Settings(**cfg)
    with seeded(0):
        model = ZSN2NNet(3, offset=cfg2.get("offset", 0.0))
    model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr); sch = zsn2n.make_scheduler(opt, s, s.steps)
    gen = torch.Generator().manual_seed(0); cpu = 0; out = []
    ema_decay = cfg2.get("ema", 0)
    ema = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(ema_decay)) if ema_decay else None
    for t in range(1, s.steps + 1):
        c0 = time.process_time()
        with torch.enable_grad():
            tgt = zsn2n.random_crops(y, s.crop, s.batch, gen) if s.crop else y
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = zsn2n.loss_fast(model, tgt, cfg2.get("margin", 0))
            opt.zero_grad(); loss.backward(); opt.step(); sch.step()
            if ema is not None: ema.update_parameters(model)
        cpu += time.process_time() - c0
        if t % every == 0 or t == s.steps:
            p = float(metrics.psnr(zsn2n.denoise_with(model, y), clean, protocol.psnr)[0])
            out.append(f"{t}:{p - ref[imgs[i].name]:+.3f}")
            if ema is not None:
                p = float(metrics.psnr(zsn2n.denoise_with(ema.module, y), clean, protocol.psnr)[0])
                out[-1] += f"/ema{p - ref[imgs[i].name]:+.3f}"
    print(ds, imgs[i].name, json.dumps({**cfg, **cfg2}), f"cpu {cpu:.1f}", " ".join(out), flush=True)
