"""Stage 3b: the instance matte decoder (IMD) at 1/8: instance tokens ↔ features attention.

One learned token per instance slot (always ``max_instances`` tokens, one set per clip) attends
to the 1/8 features of all frames, and the features attend back to the tokens. There is no
spatial or temporal positional encoding: the only "positions" are learned instance-ID
embeddings — token ``k`` gets row ``k + 1``, and a feature cell gets the row of the instance whose
mask covers it (the highest slot wins on overlaps, row 0 where none does). Tokens of empty
slots (no mask pixel in the clip, or beyond the real instance count) are masked as keys.

Each block is post-norm with residuals: tokens ← CA(tokens → features); tokens ← FFN;
tokens ← SA; features ← CA(features → tokens). A final token → feature attention follows.
Then a conv head turns the features into F̄8 and an MLP + LayerNorm turns the tokens into
instance kernels; their dot product is the coarse matte logit of each instance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["InstanceMatteDecoder", "FeedForward"]


class _Projection(nn.Module):
    """A single linear layer kept inside ``layers`` (the checkpoints' key layout)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(in_dim, out_dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers[0](x)


class _CrossAttention(nn.Module):
    """``x ← LN(x + MHA(x + pos_x, mem + pos_mem, mem))``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(
        self,
        x: torch.Tensor,
        pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        *,
        memory_padding: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        out, weights = self.multihead_attn(
            x + pos,
            memory + memory_pos,
            memory,
            key_padding_mask=memory_padding,
            need_weights=True,
            average_attn_weights=True,
        )
        return self.norm(x + out), weights if need_weights else None


class _SelfAttention(nn.Module):
    """``x ← LN(x + MHA(x + pos, x + pos, x))``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        q = x + pos
        out, _ = self.self_attn(q, q, x, key_padding_mask=padding, need_weights=True)
        return self.norm(x + out)


class FeedForward(nn.Module):
    """``x ← LN(x + W2·dropout(ReLU(W1·x)))`` with dropout on the residual branch too."""

    def __init__(self, dim: int, hidden: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear2(self.dropout(F.relu(self.linear1(x))))
        return self.norm(x + self.dropout(out))


class InstanceMatteDecoder(nn.Module):
    """Instance matte decoder.

    Args:
        dim: channels of the 1/8 feature (and attention width).
        feature_dim: output channels of F̄8 and of the instance kernels.
        max_instances: token slots.
        blocks, heads: attention depth and heads.
    """

    def __init__(self, *, dim: int, feature_dim: int, max_instances: int, blocks: int, heads: int) -> None:
        super().__init__()
        self.max_instances = max_instances
        self.feat_proj = _Projection(dim, dim)
        self.token_feat_ca_layers = nn.ModuleList([_CrossAttention(dim, heads) for _ in range(blocks)])
        self.mlp_layers = nn.ModuleList([FeedForward(dim, dim) for _ in range(blocks)])
        self.sa_layers = nn.ModuleList([_SelfAttention(dim, heads) for _ in range(blocks)])
        self.feat_token_ca_layers = nn.ModuleList([_CrossAttention(dim, heads) for _ in range(blocks)])
        self.final_token_feat_ca = _CrossAttention(dim, heads)
        self.final_mlp = _Projection(dim, feature_dim)
        self.decoder_norm = nn.LayerNorm(feature_dim)
        self.query_feat = nn.Embedding(max_instances, dim)
        self.id_embedding = nn.Embedding(max_instances + 1, dim)
        self.conv = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1, bias=False),
            nn.BatchNorm2d(dim),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(dim, feature_dim, 1, bias=False),
            nn.BatchNorm2d(feature_dim),
            nn.LeakyReLU(0.2, inplace=True),
        )

    def attend(
        self, feat: torch.Tensor, masks: torch.Tensor, *, need_attention: bool
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Run the attention blocks.

        Args:
            feat: 1/8 features ``(B, T, C, h, w)``.
            masks: guidance masks ``(B, T, N, H, W)`` at full resolution, ``N ≤ max_instances``.
            need_attention: also return the token → feature attention maps.

        Returns:
            attended features ``(B, T, C, h, w)``, raw tokens ``(B, S, C)``, attention maps, and
            which instances have a mask anywhere in the clip ``(B, N)`` bool.
        """
        b, t, c, h, w = feat.shape
        n = masks.shape[2]
        s = self.max_instances
        # A coarse cell belongs to an instance if any pixel of its 8×8 block does.
        cells = F.max_pool2d(masks.flatten(0, 1).float(), kernel_size=8) > 0  # (B·T, N, h, w)
        cells = cells.view(b, t, n, h, w)
        slot_ids = torch.arange(1, n + 1, device=feat.device).view(1, 1, n, 1, 1)
        cell_id = (cells.long() * slot_ids).amax(dim=2)  # (B, T, h, w)
        # Sequence index = cell·T + frame, as the checkpoints were trained.
        feat_pos = self.id_embedding(cell_id).permute(0, 2, 3, 1, 4).reshape(b, h * w * t, c)
        seq = feat.permute(0, 3, 4, 1, 2).reshape(b, h * w * t, c)
        seq = self.feat_proj(seq)

        tokens = self.query_feat.weight.unsqueeze(0).expand(b, -1, -1)
        token_pos = self.id_embedding.weight[1 : s + 1].unsqueeze(0).expand(b, -1, -1)
        present = cells.flatten(3).any(dim=3).any(dim=1)  # (B, N)
        invalid = torch.ones(b, s, dtype=torch.bool, device=feat.device)
        invalid[:, :n] = ~present
        # With no instance at all every key would be masked and the attention would be NaN (the
        # reference's behaviour); attend to all tokens instead so the output stays finite.
        invalid &= ~invalid.all(dim=1, keepdim=True)

        maps: list[torch.Tensor] = []
        for ca, mlp, sa, back in zip(
            self.token_feat_ca_layers, self.mlp_layers, self.sa_layers, self.feat_token_ca_layers, strict=True
        ):
            tokens, att = ca(tokens, token_pos, seq, feat_pos, need_weights=need_attention)
            if att is not None:
                maps.append(att)
            tokens = mlp(tokens)
            tokens = sa(tokens, token_pos, invalid)
            seq, _ = back(seq, feat_pos, tokens, token_pos, memory_padding=invalid)
        tokens, att = self.final_token_feat_ca(tokens, token_pos, seq, feat_pos, need_weights=need_attention)
        if att is not None:
            maps.append(att)
        attended = seq.view(b, h, w, t, c).permute(0, 3, 4, 1, 2)
        return attended, tokens, maps, present

    def head(self, attended: torch.Tensor) -> torch.Tensor:
        """Conv head: ``(F, C, h, w)`` → F̄8 ``(F, feature_dim, h, w)``."""
        return self.conv(attended)

    def kernels(self, tokens: torch.Tensor) -> torch.Tensor:
        """Raw tokens ``(B, S, C)`` → instance kernels ``(B, S, feature_dim)``."""
        return self.decoder_norm(self.final_mlp(tokens))

    @staticmethod
    def logits(kernels: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Kernels ``(B, S, D)`` · features ``(B, T, D, h, w)`` → logits ``(B, T, S, h, w)``."""
        return torch.einsum("bsd,btdhw->btshw", kernels, features)
