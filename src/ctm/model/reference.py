"""A literal, slow transcription of DESIGN.md sections 1-2, for tests and benchmarks only.

It follows the original research code's algorithm and layouts: torch's MultiheadAttention called
every tick (keys and values re-projected each time), neuron-level models as an einsum over
weights laid out (in, out, D), dense synchronisation as an outer product reduced to its upper
triangle. Its state dict uses the original's key names, so it loads original checkpoints as they
are, and `state_dict_to_original` moves weights from the fast model into it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import ParityBackbone, ResNetStages, RotationalEmbedding1D
from .config import CTMConfig, CTMOutput
from .synapse import unet_widths


class _PositionalEmbedding(RotationalEmbedding1D):
    """The original's calling convention: (B, C, L) features -> (B, C, L) embedding."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        embedding = super().forward(features.size(2), features.device)  # (L, C)
        return embedding.t().unsqueeze(0).expand(features.size(0), -1, -1)


class _SuperLinear(nn.Module):
    def __init__(self, n_in: int, n_out: int, neurons: int, dropout: float) -> None:
        super().__init__()
        bound = 1 / math.sqrt(n_in + n_out)
        self.dropout = nn.Dropout(dropout)
        self.w1 = nn.Parameter(torch.empty(n_in, n_out, neurons).uniform_(-bound, bound))
        self.b1 = nn.Parameter(torch.zeros(1, neurons, n_out))
        self.T = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("BDM,MHD->BDH", self.dropout(x), self.w1) + self.b1
        return out.squeeze(-1) / self.T


class _Squeeze(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(-1)


class _SynapseUNet(nn.Module):
    def __init__(self, n_in: int, d_model: int, depth: int, dropout: float) -> None:
        super().__init__()
        w = unet_widths(d_model, depth)
        self.first_projection = nn.Sequential(nn.Linear(n_in, w[0]), nn.LayerNorm(w[0]),
                                              nn.SiLU())
        self.down_projections = nn.ModuleList()
        self.up_projections = nn.ModuleList()
        self.skip_lns = nn.ModuleList()
        for i in range(depth - 1):
            self.down_projections.append(nn.Sequential(
                nn.Dropout(dropout), nn.Linear(w[i], w[i + 1]), nn.LayerNorm(w[i + 1]), nn.SiLU()))
            self.up_projections.append(nn.Sequential(
                nn.Dropout(dropout), nn.Linear(w[i + 1], w[i]), nn.LayerNorm(w[i]), nn.SiLU()))
            self.skip_lns.append(nn.LayerNorm(w[i]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs_down = [self.first_projection(x)]
        for layer in self.down_projections:
            outs_down.append(layer(outs_down[-1]))
        outs_up = outs_down[-1]
        n = len(self.up_projections)
        for i in range(n):
            idx = n - 1 - i
            outs_up = self.skip_lns[idx](self.up_projections[idx](outs_up) + outs_down[idx])
        return outs_up


class ReferenceCTM(nn.Module):
    def __init__(self, config: CTMConfig) -> None:
        super().__init__()
        self.config = c = config
        d, m = c.d_model, c.memory_length
        if c.backbone == "parity":
            self.initial_rgb = nn.Identity()
            self.backbone = ParityBackbone(c.backbone_channels)
        else:
            self.initial_rgb = nn.Conv2d(c.in_channels, 3, 1)
            self.backbone = ResNetStages(c.backbone)
        self.positional_embedding = (_PositionalEmbedding(c.backbone_channels)
                                     if c.positional_embedding == "rotational-1d" else None)
        self.kv_proj = nn.Sequential(nn.Linear(c.backbone_channels, c.d_input),
                                     nn.LayerNorm(c.d_input))
        self.q_proj = nn.Linear(c.sync_size("action"), c.d_input)
        self.attention = nn.MultiheadAttention(c.d_input, c.heads, c.dropout, batch_first=True)
        if c.synapse_depth == 1:
            self.synapses = nn.Sequential(nn.Dropout(c.dropout), nn.Linear(c.d_input + d, 2 * d),
                                          nn.GLU(), nn.LayerNorm(d))
        else:
            self.synapses = _SynapseUNet(c.d_input + d, d, c.synapse_depth, c.dropout)
        if c.deep_nlm:
            layers = [_SuperLinear(m, 2 * c.nlm_hidden, d, c.dropout_nlm), nn.GLU(),
                      _SuperLinear(c.nlm_hidden, 2, d, c.dropout_nlm), nn.GLU(), _Squeeze()]
        else:
            layers = [_SuperLinear(m, 2, d, c.dropout_nlm), nn.GLU(), _Squeeze()]
        self.trace_processor = nn.Sequential(nn.Sequential(*layers))
        self.start_activated_state = nn.Parameter(
            torch.empty(d).uniform_(-math.sqrt(1 / d), math.sqrt(1 / d)))
        self.start_trace = nn.Parameter(
            torch.empty(d, m).uniform_(-math.sqrt(1 / (d + m)), math.sqrt(1 / (d + m))))
        for kind in ("action", "out"):
            n = c.n_sync_action if kind == "action" else c.n_sync_out
            self.register_buffer(f"{kind}_neuron_indices_left", torch.zeros(n, dtype=torch.long))
            self.register_buffer(f"{kind}_neuron_indices_right", torch.zeros(n, dtype=torch.long))
            self.register_parameter(f"decay_params_{kind}",
                                    nn.Parameter(torch.zeros(c.sync_size(kind))))
        self.output_projector = nn.Sequential(nn.Linear(c.sync_size("out"), c.out_dims))

    def compute_features(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.backbone == "parity":
            features = self.backbone(x).transpose(1, 2)  # (B, C, L)
        else:
            features = self.backbone(self.initial_rgb(x))  # (B, C, H, W)
        if self.positional_embedding is not None:
            features = features + self.positional_embedding(features)
        return self.kv_proj(features.flatten(2).transpose(1, 2))

    def compute_synchronisation(self, z, alpha, beta, r, kind):
        c = self.config
        n = c.n_sync_action if kind == "action" else c.n_sync_out
        left_idx = getattr(self, f"{kind}_neuron_indices_left")
        right_idx = getattr(self, f"{kind}_neuron_indices_right")
        if c.pairing in ("dense", "semi-dense"):
            if c.pairing == "dense":
                left = right = z[:, -n:] if kind == "action" else z[:, :n]
            else:
                left, right = z[:, left_idx], z[:, right_idx]
            outer = left.unsqueeze(2) * right.unsqueeze(1)
            i, j = torch.triu_indices(n, n)
            products = outer[:, i, j]
        else:
            products = z[:, left_idx] * z[:, right_idx]
        if alpha is None:
            alpha, beta = products, torch.ones_like(products)
        else:
            alpha = r * alpha + products
            beta = r * beta + 1
        return alpha / torch.sqrt(beta), alpha, beta

    def forward(self, x: torch.Tensor, ticks: int | None = None, trace: bool = False
                ) -> CTMOutput:
        c = self.config
        n_ticks = c.ticks if ticks is None else ticks
        kv = self.compute_features(x)
        b = kv.size(0)
        state_trace = self.start_trace.unsqueeze(0).expand(b, -1, -1)
        z = self.start_activated_state.unsqueeze(0).expand(b, -1)
        # as the original does: project the stored decays into [0, 15] in place, then use them
        # as they are, so every decay keeps its gradient (taken at the projected value)
        with torch.no_grad():
            self.decay_params_action.clamp_(0, 15)
            self.decay_params_out.clamp_(0, 15)
        r_action = torch.exp(-self.decay_params_action).unsqueeze(0).repeat(b, 1)
        r_out = torch.exp(-self.decay_params_out).unsqueeze(0).repeat(b, 1)
        _, alpha_out, beta_out = self.compute_synchronisation(z, None, None, r_out, "out")
        alpha_action = beta_action = None
        predictions, tracks = [], {k: [] for k in ("attn", "pre", "post", "out", "act")}
        for _ in range(n_ticks):
            s_action, alpha_action, beta_action = self.compute_synchronisation(
                z, alpha_action, beta_action, r_action, "action")
            q = self.q_proj(s_action).unsqueeze(1)
            attn_out, attn_w = self.attention(q, kv, kv, average_attn_weights=False,
                                              need_weights=True)
            state = self.synapses(torch.cat((attn_out.squeeze(1), z), dim=-1))
            state_trace = torch.cat((state_trace[:, :, 1:], state.unsqueeze(-1)), dim=-1)
            z = self.trace_processor(state_trace)
            s_out, alpha_out, beta_out = self.compute_synchronisation(
                z, alpha_out, beta_out, r_out, "out")
            predictions.append(self.output_projector(s_out))
            if trace:
                for key, v in zip(tracks, (attn_w.squeeze(2), state, z, s_out, s_action),
                                  strict=True):
                    tracks[key].append(v.detach())
        logits = torch.stack(predictions, 1)
        groups = logits.reshape(b, n_ticks, -1, c.out_groups_shape[-1])
        probs = F.softmax(groups, -1)
        entropy = -(probs * F.log_softmax(groups, -1)).sum(-1)
        entropy = entropy / torch.log(torch.tensor(groups.shape[-1], dtype=torch.float32))
        out = CTMOutput(logits=logits, certainty=1 - entropy.mean(-1), sync_out=s_out)
        if trace:
            out.attention = torch.stack(tracks["attn"], 1)
            out.pre_activations = torch.stack(tracks["pre"], 1)
            out.post_activations = torch.stack(tracks["post"], 1)
            out.sync_out_trace = torch.stack(tracks["out"], 1)
            out.sync_action_trace = torch.stack(tracks["act"], 1)
        return out
