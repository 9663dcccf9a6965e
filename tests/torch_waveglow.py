"""A small PyTorch WaveGlow, channels-first like the published one, for parity tests.

Written for this project from the WaveGlow paper (Prenger, Valle and Catanzaro, 2018) and the
public description of NVIDIA's checkpoints (parameter names `upsample`, `WN.<k>.start`,
`WN.<k>.in_layers.<i>`, `WN.<k>.cond_layer` or `WN.<k>.cond_layers.<i>`,
`WN.<k>.res_skip_layers.<i>`, `WN.<k>.end`, `convinv.<k>.conv`). It is the reference that
`keras_waveglow.convert` is checked against, and benchmarks reuse it for CPU speed comparisons,
so importing this module does nothing but define classes and functions.

Layout: mel (B, n_mel, F), audio (B, T), latent z (B, n_group, T // n_group) with the early
outputs first along the channel axis. The grouped conditioning channel index is
`m * n_group + g` (mel band major), as in NVIDIA's code.
"""

from __future__ import annotations

import contextlib
import sys
import warnings

import torch
from torch import nn
from torch.nn import functional as F


def _maybe_weight_norm(conv: nn.Conv1d, use: bool) -> nn.Conv1d:
    if not use:
        return conv
    with warnings.catch_warnings():  # the old-style hook is what NVIDIA's checkpoints carry
        warnings.simplefilter("ignore")
        return nn.utils.weight_norm(conv, name="weight")


class Invertible1x1Conv(nn.Module):
    """Channel mixing `z -> W z` at every time step; W starts as a random rotation."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 1, bias=False)
        q, _ = torch.linalg.qr(torch.randn(channels, channels))
        if torch.det(q) < 0:
            q[:, 0] = -q[:, 0]
        with torch.no_grad():
            self.conv.weight.copy_(q[:, :, None])

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.conv.weight[:, :, 0]
        log_det_per_step = torch.linalg.slogdet(w.double())[1].float()
        return self.conv(z), z.shape[2] * log_det_per_step

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        w_inv = torch.linalg.inv(self.conv.weight[:, :, 0].double()).to(z.dtype)
        return F.conv1d(z, w_inv[:, :, None])


class WN(nn.Module):
    """Gated, dilated, non-causal convolutions giving (b, log_s) for an affine coupling.

    Args:
        n_in_channels: channels of the half that conditions the coupling.
        n_cond_channels: grouped mel channels (n_mel * n_group).
        n_layers, n_channels, kernel_size: the stack's shape.
        per_layer_cond: one conditioning conv per layer (`cond_layers`, older checkpoints and
            DeepLearningExamples) instead of one conv with all layers' outputs (`cond_layer`).
        weight_norm: weight-normalised convs (all but `end`).
    """

    def __init__(
        self,
        n_in_channels: int,
        n_cond_channels: int,
        n_layers: int,
        n_channels: int,
        kernel_size: int,
        per_layer_cond: bool = False,
        weight_norm: bool = True,
    ):
        super().__init__()
        self.n_layers = n_layers
        self.n_channels = n_channels
        self.per_layer_cond = per_layer_cond
        self.start = _maybe_weight_norm(nn.Conv1d(n_in_channels, n_channels, 1), weight_norm)
        self.end = nn.Conv1d(n_channels, 2 * n_in_channels, 1)
        nn.init.zeros_(self.end.weight)
        nn.init.zeros_(self.end.bias)
        if per_layer_cond:
            self.cond_layers = nn.ModuleList(
                _maybe_weight_norm(nn.Conv1d(n_cond_channels, 2 * n_channels, 1), weight_norm)
                for _ in range(n_layers)
            )
        else:
            self.cond_layer = _maybe_weight_norm(
                nn.Conv1d(n_cond_channels, 2 * n_channels * n_layers, 1), weight_norm
            )
        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        for i in range(n_layers):
            dilation = 2**i
            self.in_layers.append(
                _maybe_weight_norm(
                    nn.Conv1d(
                        n_channels,
                        2 * n_channels,
                        kernel_size,
                        dilation=dilation,
                        padding=dilation * (kernel_size - 1) // 2,
                    ),
                    weight_norm,
                )
            )
            out = 2 * n_channels if i < n_layers - 1 else n_channels
            self.res_skip_layers.append(
                _maybe_weight_norm(nn.Conv1d(n_channels, out, 1), weight_norm)
            )

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        n = self.n_channels
        h = self.start(x)
        if self.per_layer_cond:
            conds = [layer(cond) for layer in self.cond_layers]
        else:
            conds = torch.split(self.cond_layer(cond), 2 * n, dim=1)
        skip = 0.0
        for i in range(self.n_layers):
            pre = self.in_layers[i](h) + conds[i]
            acts = torch.tanh(pre[:, :n]) * torch.sigmoid(pre[:, n:])
            out = self.res_skip_layers[i](acts)
            if i < self.n_layers - 1:
                h = h + out[:, :n]
                out = out[:, n:]
            skip = skip + out
        return self.end(skip)


class WaveGlow(nn.Module):
    """The published WaveGlow: transposed-conv upsampler, 1x1 convs and affine couplings.

    Args:
        n_mel_channels, n_flows, n_group, n_early_every, n_early_size: the flow's shape.
        wn_layers, wn_channels, wn_kernel_size: each coupling's WN.
        hop_length: upsampler stride; its kernel is `4 * hop_length` (1024 for 256).
        per_layer_cond, weight_norm: see `WN`.
    """

    def __init__(
        self,
        n_mel_channels: int = 80,
        n_flows: int = 12,
        n_group: int = 8,
        n_early_every: int = 4,
        n_early_size: int = 2,
        wn_layers: int = 8,
        wn_channels: int = 256,
        wn_kernel_size: int = 3,
        hop_length: int = 256,
        per_layer_cond: bool = False,
        weight_norm: bool = True,
    ):
        super().__init__()
        self.n_flows = n_flows
        self.n_group = n_group
        self.n_early_every = n_early_every
        self.n_early_size = n_early_size
        self.upsample = nn.ConvTranspose1d(
            n_mel_channels, n_mel_channels, 4 * hop_length, stride=hop_length
        )
        self.WN = nn.ModuleList()
        self.convinv = nn.ModuleList()
        remaining = n_group
        for k in range(n_flows):
            if self._emits_early(k):
                remaining -= n_early_size
            self.convinv.append(Invertible1x1Conv(remaining))
            self.WN.append(
                WN(
                    remaining // 2,
                    n_mel_channels * n_group,
                    wn_layers,
                    wn_channels,
                    wn_kernel_size,
                    per_layer_cond=per_layer_cond,
                    weight_norm=weight_norm,
                )
            )
        self.n_remaining_channels = remaining

    def _emits_early(self, k: int) -> bool:
        return k > 0 and k % self.n_early_every == 0

    def _grouped_condition(self, mel: torch.Tensor, length: int) -> torch.Tensor:
        up = self.upsample(mel)[:, :, :length]  # (B, n_mel, T)
        batch, n_mel, _ = up.shape
        # (B, n_mel, T/g, g) -> (B, n_mel, g, T/g) -> (B, n_mel * g, T/g): index m * g + j.
        grouped = up.reshape(batch, n_mel, -1, self.n_group).permute(0, 1, 3, 2)
        return grouped.reshape(batch, n_mel * self.n_group, -1)

    def forward(self, mel: torch.Tensor, audio: torch.Tensor):
        """Audio (B, T) -> (z (B, n_group, T // n_group), log_det (B,))."""
        cond = self._grouped_condition(mel, audio.shape[1])
        x = audio.reshape(audio.shape[0], -1, self.n_group).permute(0, 2, 1)
        log_det = torch.zeros(audio.shape[0], device=audio.device)
        early = []
        for k in range(self.n_flows):
            if self._emits_early(k):
                early.append(x[:, : self.n_early_size])
                x = x[:, self.n_early_size :]
            x, conv_log_det = self.convinv[k](x)
            log_det = log_det + conv_log_det
            n_half = x.shape[1] // 2
            out = self.WN[k](x[:, :n_half], cond)
            log_s, b = out[:, n_half:], out[:, :n_half]
            x = torch.cat([x[:, :n_half], torch.exp(log_s) * x[:, n_half:] + b], dim=1)
            log_det = log_det + log_s.sum(dim=(1, 2))
        return torch.cat([*early, x], dim=1), log_det

    def infer(
        self, mel: torch.Tensor, z: torch.Tensor | None = None, sigma: float = 0.6
    ) -> torch.Tensor:
        """Latent z (B, n_group, F * hop // n_group) -> audio (B, F * hop).

        Without z, z is drawn from N(0, sigma^2) with torch's global generator.
        """
        stride = self.upsample.stride[0]
        cond = self._grouped_condition(mel, mel.shape[2] * stride)
        if z is None:
            z = sigma * torch.randn(
                mel.shape[0], self.n_group, cond.shape[2], dtype=mel.dtype, device=mel.device
            )
        n_early = z.shape[1] - self.n_remaining_channels
        early, x = z[:, :n_early], z[:, n_early:]
        for k in reversed(range(self.n_flows)):
            n_half = x.shape[1] // 2
            out = self.WN[k](x[:, :n_half], cond)
            log_s, b = out[:, n_half:], out[:, :n_half]
            x = torch.cat([x[:, :n_half], (x[:, n_half:] - b) * torch.exp(-log_s)], dim=1)
            x = self.convinv[k].inverse(x)
            if self._emits_early(k):
                x = torch.cat([early[:, -self.n_early_size :], x], dim=1)
                early = early[:, : -self.n_early_size]
        return x.permute(0, 2, 1).reshape(x.shape[0], -1)

    def remove_weight_norm(self) -> WaveGlow:
        """Folds every weight-norm hook into a plain `weight` (in place); returns self."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for module in self.modules():
                if isinstance(module, nn.Conv1d) and hasattr(module, "weight_g"):
                    nn.utils.remove_weight_norm(module)
        return self


def randomize(model: WaveGlow, scale: float = 0.05, seed: int = 0) -> WaveGlow:
    """Adds Gaussian noise to every parameter (the zero-initialised `end` convs included)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(scale * torch.randn(param.shape, generator=generator))
    return model


@contextlib.contextmanager
def published_class_names():
    """Makes the three model classes pickle as `glow.WaveGlow`, `glow.WN`, `glow.Invertible1x1Conv`.

    NVIDIA's train.py pickles the whole module, defined in a top-level `glow` module. Within this
    context a module named `glow` holding these classes is registered, so `torch.save` writes the
    same global names a published checkpoint has. Everything is restored on exit.
    """
    this = sys.modules[__name__]
    classes = (WaveGlow, WN, Invertible1x1Conv)
    saved = {cls: cls.__module__ for cls in classes}
    previous = sys.modules.get("glow")
    sys.modules["glow"] = this
    try:
        for cls in classes:
            cls.__module__ = "glow"
        yield
    finally:
        for cls, module in saved.items():
            cls.__module__ = module
        if previous is None:
            sys.modules.pop("glow", None)
        else:
            sys.modules["glow"] = previous
