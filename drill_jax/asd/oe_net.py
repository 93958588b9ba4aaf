"""The outlier-exposure network: a log-Mel branch (1-D convolutions over time) and a spectrum
branch (dense layers on the whole-recording log spectrum), concatenated into one embedding,
and an angular-margin (ArcFace) classification head over the metadata classes."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class OENet(nn.Module):
    """(mel [B, W, M], spectrum [B, K]) -> (embedding [B, E], cosine to each class's
    sub-cluster centres [B, C, S]). A branch is left out when its flag is off (its input is
    then ignored)."""

    n_classes: int
    width: int = 128
    embedding_dim: int = 128
    use_mel: bool = True
    use_spectrum: bool = True
    subclusters: int = 1

    def _norm(self, x, name: str, train: bool):
        return nn.BatchNorm(use_running_average=not train, momentum=0.9, name=name)(x)

    @nn.compact
    def __call__(self, mel, spectrum, train: bool = False):
        parts = []
        if self.use_mel:
            h = mel  # [B, W, M]: Mel bands as channels, convolved along time
            for i in range(3):
                h = nn.Conv(self.width, (3,), name=f"mel_conv{i}")(h)
                h = nn.relu(self._norm(h, f"mel_bn{i}", train))
                h = nn.max_pool(h, (2,), strides=(2,))  # [B, W / 2^(i+1), width]
            h = jnp.concatenate([h.mean(axis=1), h.max(axis=1)], axis=-1)  # [B, 2 width]
            parts.append(nn.Dense(self.embedding_dim, name="mel_out")(h))
        if self.use_spectrum:
            h = nn.Dense(2 * self.width, name="spec_in")(spectrum)  # [B, 2 width]
            h = nn.relu(self._norm(h, "spec_bn", train))
            parts.append(nn.Dense(self.embedding_dim, name="spec_out")(h))
        emb = nn.Dense(self.embedding_dim, use_bias=False, name="embed")(
            jnp.concatenate(parts, axis=-1)
        )  # [B, E]
        centres = self.param(
            "centres", nn.initializers.normal(1.0),
            (self.embedding_dim, self.n_classes * self.subclusters),
        )
        cos = _unit(emb) @ _unit(centres.T).T  # [B, C * S]
        return emb, cos.reshape(cos.shape[0], self.n_classes, self.subclusters)


def _unit(x):
    """Rows scaled to unit L2 norm. [..., E] -> [..., E]."""
    return x / jnp.sqrt(jnp.sum(x**2, axis=-1, keepdims=True) + 1e-12)


def arcface_loss(cos: jax.Array, labels: jax.Array, margin: float, scale: float) -> jax.Array:
    """Per-example ArcFace cross-entropy over sub-clusters. cos [B, C, S], labels [B] int
    -> [B].

    logits_cs = scale * cos(theta_cs + margin * [c == label]), theta_cs = arccos(cos_cs);
    p_c = sum_s softmax(logits)_cs; loss = -log p_label (Deng et al. 2019; with S > 1 the
    sub-cluster softmax of Wilkinghoff 2021). margin 0 is the normalised-softmax
    (AdaCos-style fixed scale) loss.
    """
    cos = jnp.clip(cos, -1.0 + 1e-6, 1.0 - 1e-6)
    target = jnp.cos(jnp.arccos(cos) + margin)
    onehot = jax.nn.one_hot(labels, cos.shape[1], dtype=cos.dtype)[:, :, None]  # [B, C, 1]
    logits = scale * jnp.where(onehot > 0, target, cos)
    b = logits.shape[0]
    log_p = jax.nn.log_softmax(logits.reshape(b, -1), axis=-1).reshape(logits.shape)
    return -jax.nn.logsumexp(jnp.where(onehot > 0, log_p, -jnp.inf), axis=(1, 2))
