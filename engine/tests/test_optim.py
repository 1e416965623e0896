"""Optimizers and lr schedules against their references: Lion (lion_pytorch) against the paper's formula, the packages' arguments,
diffusers' schedule curves, Adafactor's relative step, schedule-free's eval/train switch, and a resume
across a cosine_with_restarts restart (in-process, tiny tensors)."""
from __future__ import annotations

import io
import math

import pytest
import torch
from test_train_support import OptimizerKind

from danlu_engine.protocol import EngineError
from danlu_engine.spec import OptimizerSpec, SchedulerSpec
from danlu_engine.train import optim
from danlu_engine.train.optimizers import build_optimizer, evaluation_weights, optimizer_kwargs

torch.set_num_threads(1)
CPU = torch.device("cpu")


def spec(kind: OptimizerKind, lr: float = 1e-3, **args) -> OptimizerSpec:
    return OptimizerSpec(kind, lr, lr / 2, 0.01, (0.9, 0.999), 1e-8, 0.0, args)


def groups(*tensors: torch.Tensor, lr: float = 1e-3) -> list[dict]:
    return [{"params": [torch.nn.Parameter(t.clone())], "lr": lr, "name": f"g{i}"} for i, t in enumerate(tensors)]


def test_lion_is_lion_pytorchs_and_steps_follow_the_paper_formula():
    p0 = torch.tensor([0.5, -1.0, 2.0, 0.0])
    grads = [torch.tensor([0.3, -0.2, 0.0, 1.0]), torch.tensor([-0.5, -0.1, 0.4, 0.2])]
    lr, (b1, b2), wd = 0.1, (0.9, 0.99), 0.5
    p = torch.nn.Parameter(p0.clone())
    opt = build_optimizer(spec("Lion", lr, betas=[b1, b2], weight_decay=wd), [{"params": [p], "lr": lr}], CPU)
    assert type(opt).__module__ == "lion_pytorch.lion_pytorch"
    expected, m = p0.clone(), torch.zeros(4)
    for g in grads:
        p.grad = g.clone()
        opt.step()
        expected = expected * (1 - lr * wd) - lr * torch.sign(b1 * m + (1 - b1) * g)
        m = b2 * m + (1 - b2) * g
        torch.testing.assert_close(p.detach(), expected)
        torch.testing.assert_close(opt.state[p]["exp_avg"], m)


@pytest.mark.parametrize(
    ("kind", "args", "module"),
    [
        ("Prodigy", {"d_coef": 2.0, "safeguard_warmup": True, "use_bias_correction": True, "decouple": True,
                     "weight_decay": 0.01, "betas": [0.9, 0.99]}, "prodigyopt"),
        ("DAdaptAdam", {"decouple": True, "growth_rate": 1.02, "use_bias_correction": True}, "dadaptation"),
        ("AdamWScheduleFree", {"warmup_steps": 3, "r": 0.5}, "schedulefree"),
        ("Adafactor", {"scale_parameter": False, "relative_step": False, "eps": [1e-30, 1e-3]}, "transformers"),
        ("Lion", {"betas": [0.95, 0.98]}, "lion_pytorch"),
    ],
)
def test_optimizer_args_reach_the_package(kind, args, module, capsys):
    opt = build_optimizer(spec(kind, 1.0, **args), groups(torch.ones(3), torch.ones(2), lr=0.7), CPU)
    assert type(opt).__module__.startswith(module)
    assert capsys.readouterr().out == ""  # stdout is the protocol's alone
    group = opt.param_groups[0]
    for key, value in args.items():
        assert group[key] == (tuple(value) if isinstance(value, list) else value), key
    assert [g["lr"] for g in opt.param_groups] == [0.7, 0.7]  # the groups' own lrs are kept


def test_adamw_keeps_the_spec_fields_and_args_override_them():
    assert optimizer_kwargs(spec("AdamW")) == {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01}
    assert optimizer_kwargs(spec("AdamW", weight_decay=0.1))["weight_decay"] == 0.1
    assert "eps" not in optimizer_kwargs(spec("Prodigy"))  # package default, not AdamW's


def test_an_argument_the_optimizer_does_not_take_is_named():
    with pytest.raises(EngineError) as caught:
        build_optimizer(spec("Lion", eps=1e-8), groups(torch.ones(2)), CPU)
    assert caught.value.code == "BAD_SPEC" and "Lion does not accept eps" in caught.value.message
    assert "accepted: weight_decay, betas" in caught.value.message


def test_adafactor_relative_step_reports_its_own_lr():
    opt_spec = spec("Adafactor", lr=1e-3)  # relative step by default, as in sd-scripts
    opt = build_optimizer(opt_spec, groups(torch.ones(4, 4)), CPU)
    assert opt.param_groups[0]["lr"] is None and opt.defaults["relative_step"]
    scheduler = optim.build_scheduler(SchedulerSpec("adafactor", 0, 1, 1.0), opt, 10, opt_spec)
    assert scheduler.get_last_lr() == [1e-3]  # the initial lr before any step (adafactor:<lr>)
    p = opt.param_groups[0]["params"][0]
    p.grad = torch.ones_like(p)
    opt.step()
    scheduler.step()
    # relative step: min(1e-2, 1/sqrt(step)) x max(eps2, RMS(p)) with step 1 and RMS(ones) = 1
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-2)
    with pytest.raises(EngineError, match="adafactor schedule"):
        optim.build_scheduler(SchedulerSpec("constant", 0, 1, 1.0), opt, 10, opt_spec)


def test_adafactor_with_a_fixed_lr_uses_the_usual_schedules():
    opt_spec = spec("Adafactor", lr=1e-3, relative_step=False)
    opt = build_optimizer(opt_spec, groups(torch.ones(2)), CPU)
    scheduler = optim.build_scheduler(SchedulerSpec("linear", 0, 1, 1.0), opt, 4, opt_spec)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR) and opt.param_groups[0]["lr"] == 1e-3


def test_schedule_free_saves_the_averaged_weights_and_trains_on_the_interpolated_point():
    opt = build_optimizer(spec("AdamWScheduleFree", lr=0.1), groups(torch.zeros(3)), CPU)
    p = opt.param_groups[0]["params"][0]
    for _ in range(3):
        p.grad = torch.tensor([1.0, -1.0, 0.5])
        opt.step()
    y = p.detach().clone()
    with evaluation_weights(opt):
        x = p.detach().clone()
        z = opt.state[p]["z"]
        assert not opt.param_groups[0]["train_mode"]
        beta1 = opt.param_groups[0]["betas"][0]
        torch.testing.assert_close(y, torch.lerp(x, z, 1 - beta1))  # y = (1 - beta1) z + beta1 x
    assert opt.param_groups[0]["train_mode"]
    torch.testing.assert_close(p.detach(), y)


def diffusers_curve(kind: str, warmup: int, total: int, cycles: int = 1, power: float = 1.0,
                    lr: float = 1.0) -> list[float]:
    from diffusers.optimization import get_scheduler

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    num_cycles = cycles if kind == "cosine_with_restarts" else 1  # else get_scheduler's defaults
    exponent = power if kind == "polynomial" else 1.0
    sched = get_scheduler(kind, opt, num_warmup_steps=warmup, num_training_steps=total, num_cycles=num_cycles,
                          power=exponent)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize(
    ("kind", "warmup", "cycles", "power"),
    [("constant_with_warmup", 3, 1, 1.0), ("linear", 2, 1, 1.0), ("cosine", 2, 1, 1.0),
     ("cosine_with_restarts", 2, 3, 1.0), ("polynomial", 1, 1, 2.0)],
)
def test_schedules_match_diffusers_curves(kind, warmup, cycles, power):
    lr = 1e-4  # polynomial ends at diffusers' absolute lr_end 1e-7: visible at this lr
    factor = optim.lr_factor(SchedulerSpec(kind, warmup, cycles, power), total_steps=20, base_lr=lr)
    reference = diffusers_curve(kind, warmup, 20, cycles, power, lr)
    assert [lr * factor(s) for s in range(20)] == pytest.approx(reference, rel=1e-9, abs=1e-15)


def lrs_with_resume(total: int, cut: int, sched_spec: SchedulerSpec) -> tuple[list[float], list[float]]:
    """The lr of every step straight through, and the same steps with a save/load of the state at ``cut``."""
    def fresh() -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        opt_spec = spec("AdamW", lr=1e-3)
        opt = build_optimizer(opt_spec, groups(torch.ones(2)), CPU)
        return opt, optim.build_scheduler(sched_spec, opt, total, opt_spec)

    def run(opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LambdaLR, steps: int) -> list[float]:
        out = []
        for _ in range(steps):
            out.append(opt.param_groups[0]["lr"])
            opt.param_groups[0]["params"][0].grad = torch.ones(2)
            opt.step()
            sched.step()
        return out

    straight = run(*fresh(), total)
    opt, sched = fresh()
    first = run(opt, sched, cut)
    saved = []
    for state in (opt.state_dict(), sched.state_dict()):
        buffer = io.BytesIO()
        torch.save(state, buffer)
        buffer.seek(0)
        saved.append(torch.load(buffer, weights_only=True))  # as train/state.py reads them back
    opt, sched = fresh()
    opt.load_state_dict(saved[0])
    sched.load_state_dict(saved[1])
    return straight, first + run(opt, sched, total - cut)


@pytest.mark.parametrize(
    ("kind", "warmup", "cycles", "power"),
    [("constant", 0, 1, 1.0), ("constant_with_warmup", 3, 1, 1.0), ("linear", 2, 1, 1.0), ("cosine", 2, 1, 1.0),
     ("cosine_with_restarts", 2, 3, 1.0), ("polynomial", 1, 1, 2.0)],
)
def test_each_group_follows_diffusers_curve_at_its_own_lr_and_a_resume_restores_it(kind, warmup, cycles, power):
    total, lrs = 10, (1e-4, 3e-5)
    opt_spec = spec("AdamW", lr=lrs[0])
    sched_spec = SchedulerSpec(kind, warmup, cycles, power)

    def fresh():
        opt = build_optimizer(opt_spec, groups(torch.ones(2), torch.ones(3)), CPU)
        for group, lr in zip(opt.param_groups, lrs, strict=True):
            group["lr"] = group["initial_lr"] = lr
        return opt, optim.build_scheduler(sched_spec, opt, total, opt_spec)

    def run(opt, sched, steps):
        out = []
        for _ in range(steps):
            out.append([g["lr"] for g in opt.param_groups])
            opt.step()
            sched.step()
        return out

    opt, sched = fresh()
    straight = run(opt, sched, total)
    for i, lr in enumerate(lrs):
        reference = diffusers_curve(kind, warmup, total, cycles, power, lr)
        assert [row[i] for row in straight] == pytest.approx(reference, rel=1e-9, abs=1e-15)
    opt, sched = fresh()
    first = run(opt, sched, 4)
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    opt, sched = fresh()
    sched.load_state_dict(torch.load(buffer, weights_only=True))
    for group, lr in zip(opt.param_groups, sched.get_last_lr(), strict=True):
        group["lr"] = lr  # as the optimizer's own state_dict brings it back
    resumed = first + run(opt, sched, total - 4)
    assert sum(resumed, []) == pytest.approx(sum(straight, []), rel=1e-12, abs=1e-18)


def test_cosine_with_restarts_resumed_past_a_restart_continues_the_curve():
    total, cycles = 12, 3  # cycles of 4 steps; cut at step 6, inside the second cycle
    straight, resumed = lrs_with_resume(total, 6, SchedulerSpec("cosine_with_restarts", 0, cycles, 1.0))
    assert resumed == pytest.approx(straight)
    assert straight == pytest.approx([1e-3 * v for v in diffusers_curve("cosine_with_restarts", 0, total, cycles)])
    tops = [s for s in range(1, total) if straight[s] > straight[s - 1]]
    assert tops == [4, 8]  # restarts where the cycles begin, not at the resume
    assert min(straight) > 0  # never down to zero inside the run
    cycle_lows = [straight[3], straight[7], straight[11]]
    assert cycle_lows == pytest.approx([1e-3 * 0.5 * (1 + math.cos(math.pi * 0.75))] * 3)


def test_lion8bit_steps_like_lion_on_this_device():
    p8, p32 = torch.nn.Parameter(torch.ones(8192)), torch.nn.Parameter(torch.ones(8192))
    opt8 = build_optimizer(spec("Lion8bit", betas=[0.9, 0.99]), [{"params": [p8], "lr": 1e-2}], CPU)
    opt32 = build_optimizer(spec("Lion", betas=[0.9, 0.99]), [{"params": [p32], "lr": 1e-2}], CPU)
    for opt, p in ((opt8, p8), (opt32, p32)):
        p.grad = torch.linspace(-1, 1, 8192)
        opt.step()
    assert type(opt8).__name__ == "Lion8bit"
    torch.testing.assert_close(p8.detach(), p32.detach())  # first step: sign of the gradient, no state yet


def test_metadata_names_the_optimizer_args_and_loss_options_as_sd_scripts():
    from danlu_engine.train.outputs import loss_metadata, optimizer_args_text
    from danlu_engine.train.step import PLAIN

    assert optimizer_args_text(spec("Prodigy", d_coef=2.0, betas=[0.9, 0.99], decouple=True)) == (
        "(d_coef=2.0,betas=(0.9, 0.99),decouple=True)"
    )
    assert optimizer_args_text(spec("AdamW")) == ""
    meta = loss_metadata(PLAIN)
    assert meta["ss_min_snr_gamma"] == "None" and meta["ss_multires_noise_iterations"] == "None"
    assert meta["ss_loss_type"] == "l2" and meta["ss_huber_c"] == "0.1" and meta["ss_zero_terminal_snr"] == "False"
