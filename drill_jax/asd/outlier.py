"""The outlier-exposure (OE) detector, the family leading DCASE task 2 since 2021.

A network (``oe_net.OENet``) learns, on normal training recordings only, to tell their
metadata classes apart (section x attributes, or section x domain: ``data.dcase.
metadata_classes``; pseudo-labels such as file groups where there is no metadata). Sounds
that do not fit the normal ones land away from every normal recording in its embedding.

* Inputs: windows of ``window_frames`` log-Mel frames (random crops in training, every
  ``eval_hop_frames`` frames in scoring) and the whole recording's log power spectrum,
  both standardised with training statistics.
* Training: one jitted ``train_step`` (Adam), mixup of inputs and labels, ArcFace loss.
* A recording's embedding is the mean of its windows' embeddings (the anomalies of machine
  sounds last the whole recording, and a mean is steadier than a max); its embedding score
  is the cosine distance to the normal training recordings of its section, nearest ``k``
  per domain, minimum over domains (``knn.scores``), so that the few target-domain
  recordings count as much as the many source ones. Several seeds average their scores.
* Fusion (``fusion='stats+reconstruction'``, the default): the embedding score plus the
  same kind of kNN score on the recording's log-Mel statistics (per-band mean and std,
  z-scored) and the mean error of a principal-component reconstruction of its 5-frame
  log-Mel vectors (``reconstruction``, fitted per section), each standardised per domain
  on normal recordings nobody trained on and summed, minimum over domains (``fusion``):
  the statistics and reconstruction see energy at frequencies no class needs.
* Sections are kNN pools: the DCASE job trains ONE network for every machine type of a
  tree (classes: machine type x section x attributes), pooling by machine type x section.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import tqdm
from flax.training import train_state

from drill_jax import training
from drill_jax.asd import features, fusion, knn, oe_net, reconstruction

BRANCHES = ("both", "mel", "spectrum")
# What the network learns to tell apart: the metadata classes of the file names, or every
# training recording (instance discrimination, which needs every detail of a recording).
CLASSES = ("metadata", "recordings")
# The embedding kNN score fused with the statistics kNN score and the reconstruction error,
FUSIONS = ("stats+reconstruction", "stats", "none")  # with the first only, or alone
RECONSTRUCTION_FRAMES = 5  # log-Mel frames per reconstructed vector (the DCASE baseline's)


@dataclasses.dataclass(frozen=True)
class InputConfig:
    """What the network sees of a recording.

    Attributes:
      front_end: log-Mel settings of the Mel branch.
      window_frames, eval_hop_frames: window length and scoring hop in frames.
      spectrum_fft: Welch segment of the spectrum branch (samples; bins = fft / 2 + 1).
    """

    front_end: features.LogMelConfig = features.LogMelConfig()
    window_frames: int = 64
    eval_hop_frames: int = 32
    spectrum_fft: int = 4096

    def __post_init__(self):
        if min(self.window_frames, self.eval_hop_frames, self.spectrum_fft) < 1:
            raise ValueError(f"InputConfig sizes must be positive, got {self}")


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """The training loss: mixup, then ArcFace classification.

    Attributes:
      mixup_alpha: Beta(alpha, alpha) mixing weight; 0 = no mixup.
      margin, scale: ArcFace margin (radians) and logit scale. On synthetic DCASE trees a
        margin (0.2) and a large scale (16) made the embedding too compact to keep what the
        classes do not need (harmonic mean 68 vs 84 with margin 0, scale 4); mixup
        mattered as much (65 without).
    """

    mixup_alpha: float = 0.5
    margin: float = 0.0
    scale: float = 4.0

    def __post_init__(self):
        if self.mixup_alpha < 0 or self.scale <= 0:
            raise ValueError(f"LossConfig needs mixup_alpha >= 0 and scale > 0, got {self}")


@dataclasses.dataclass(frozen=True)
class OEConfig:
    """The outlier-exposure recipe (one for every machine type).

    Attributes:
      inputs: the log-Mel windows and the spectrum the network sees.
      branches: 'both', 'mel' or 'spectrum'.
      classes: 'metadata' (section x attributes or domain) or 'recordings' (each training
        recording its own class).
      width, embedding_dim: network sizes.
      subclusters: centres per class (sub-cluster softmax: a class may have several modes;
        4 beat 1 and 16 on synthetic trees).
      train: epochs over the training recordings (a random window of each per epoch),
        windows per Adam step, learning rate.
      loss: mixup and the ArcFace margin and scale.
      k: nearest training recordings per domain averaged into a kNN score.
      seeds: networks trained with different keys; their embedding scores are averaged.
      fusion: 'stats+reconstruction' (embedding and log-Mel statistics kNN scores and the
        reconstruction error, standardised per domain and summed: ``fusion``), 'stats'
        (the first two) or 'none' (embedding score only).
      components: principal components of the reconstruction (of 5 x n_mels dimensions).
    """

    inputs: InputConfig = InputConfig()
    branches: str = "both"
    classes: str = "metadata"
    width: int = 128
    embedding_dim: int = 128
    subclusters: int = 4
    train: training.Schedule = training.Schedule(epochs=200, batch_size=64)
    loss: LossConfig = LossConfig()
    k: int = 1
    seeds: int = 1
    fusion: str = "stats+reconstruction"
    components: int = 8

    def __post_init__(self):
        for name, choices in (("branches", BRANCHES), ("classes", CLASSES),
                              ("fusion", FUSIONS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; one of "
                                 f"{list(choices)}")
        if min(self.width, self.embedding_dim, self.subclusters, self.train.epochs, self.k,
               self.seeds, self.components) < 1:
            raise ValueError(f"OEConfig sizes must be positive, got {self}")
        if self.branches != "spectrum" and self.inputs.window_frames < 8:
            raise ValueError(
                f"window_frames must be >= 8 (the log-Mel branch pools time 3 times by 2), "
                f"got {self.inputs.window_frames}"
            )


@dataclasses.dataclass(frozen=True)
class Inputs:
    """Features of N recordings: log-Mel [F_i, M] each, log spectra [N, K]."""

    mels: tuple
    spectra: np.ndarray

    def take(self, idx) -> "Inputs":
        """The recordings ``idx`` ([n] int)."""
        return Inputs(tuple(self.mels[i] for i in idx), self.spectra[np.asarray(idx, int)])


def concat(parts: Sequence[Inputs]) -> Inputs:
    """The recordings of several Inputs, in order."""
    return Inputs(sum((p.mels for p in parts), ()), np.concatenate([p.spectra for p in parts]))


def inputs(config: OEConfig, waveforms: Sequence[np.ndarray], sample_rate: int) -> Inputs:
    """[T_i] recordings -> their log-Mel spectrograms and whole-recording log spectra."""
    mels = tuple(features.log_mel(config.inputs.front_end, x, sample_rate) for x in waveforms)
    spectra = np.stack([features.log_spectrum(x, config.inputs.spectrum_fft) for x in waveforms])
    return Inputs(mels, spectra)


class OEState(train_state.TrainState):
    """TrainState plus batch-norm statistics and the input standardisation of the training
    set, stats = {mel_mean, mel_std: [M], spec_mean, spec_std: [K]}."""

    batch_stats: dict
    stats: dict


@functools.lru_cache(maxsize=8)
def network(config: OEConfig, n_classes: int) -> oe_net.OENet:
    """The network for ``config`` (one instance per config and class count, so jitted
    functions that take its ``apply`` as a static argument compile once)."""
    return oe_net.OENet(n_classes, config.width, config.embedding_dim,
                        use_mel=config.branches != "spectrum",
                        use_spectrum=config.branches != "mel", subclusters=config.subclusters)


def init_state(config: OEConfig, data: Inputs, n_classes: int, key: jax.Array) -> OEState:
    """Fresh network, Adam optimiser, and the training inputs' standardisation statistics."""
    frames = np.concatenate(data.mels)
    stats = {"mel_mean": frames.mean(0), "mel_std": frames.std(0) + 1e-3,
             "spec_mean": data.spectra.mean(0), "spec_std": data.spectra.std(0) + 1e-3}
    return _create(config, n_classes, key, stats)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _create(config: OEConfig, n_classes: int, key: jax.Array, stats: dict) -> OEState:
    net = network(config, n_classes)
    mel0 = jnp.zeros((2, config.inputs.window_frames, stats["mel_mean"].shape[0]))
    variables = net.init(key, mel0, jnp.zeros((2, stats["spec_mean"].shape[0])), train=False)
    return OEState.create(
        apply_fn=net.apply, params=variables["params"], batch_stats=variables["batch_stats"],
        tx=optax.adam(config.train.learning_rate), stats=stats,
    )


def _standardise(stats: dict, mel, spec):
    """mel [B, W, M], spec [B, K] -> standardised with the training statistics."""
    mel = (mel - stats["mel_mean"][None, None, :]) / stats["mel_std"][None, None, :]
    return mel, (spec - stats["spec_mean"][None, :]) / stats["spec_std"][None, :]


@functools.partial(jax.jit, static_argnums=3)
def train_step(state: OEState, batch: dict, key: jax.Array,
               config: LossConfig) -> tuple[OEState, dict]:
    """One Adam step of mixup + ArcFace classification of batch windows (``config`` static).

    batch: mel [B, W, M], spectrum [B, K], label [B] int. The mixup pair and weight come from
    ``fold_in(key, state.step)``. Returns (new state, {"loss"}).
    """
    alpha, margin, scale = config.mixup_alpha, config.margin, config.scale
    step_key = jax.random.fold_in(key, state.step)
    perm_key, lam_key = jax.random.split(step_key)
    mel, spec = _standardise(state.stats, batch["mel"], batch["spectrum"])
    perm = jax.random.permutation(perm_key, mel.shape[0])
    lam = jax.random.beta(lam_key, alpha, alpha) if alpha > 0 else 1.0
    mel = lam * mel + (1 - lam) * mel[perm]
    spec = lam * spec + (1 - lam) * spec[perm]

    def loss_fn(params):
        (_, cos), updates = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats}, mel, spec, train=True,
            mutable=["batch_stats"],
        )
        loss = lam * oe_net.arcface_loss(cos, batch["label"], margin, scale) + (
            1 - lam) * oe_net.arcface_loss(cos, batch["label"][perm], margin, scale)
        return jnp.mean(loss), updates["batch_stats"]

    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=stats), {"loss": loss}


def _batches(config: OEConfig, data: Inputs, key: jax.Array):
    """Yields (file indices [B], window starts [B]): ``config.train.epochs`` epochs of
    shuffled files, a random window per file (the last batch of an epoch wraps)."""
    lengths = np.array([m.shape[0] for m in data.mels])
    room = np.maximum(lengths - config.inputs.window_frames + 1, 1)
    order_key, crop_key = jax.random.split(key)
    for epoch in range(config.train.epochs):
        idx, _ = training.masked_batches(
            training.epoch_order(order_key, epoch, len(lengths)), config.train.batch_size
        )
        u = np.asarray(jax.random.uniform(jax.random.fold_in(crop_key, epoch), (len(lengths),)))
        starts = (u * room).astype(np.int64)
        for row in idx:
            yield row, starts[row]


def fit_one(config: OEConfig, data: Inputs, labels, key: jax.Array,
            progress: bool = False) -> OEState:
    """Trains one OE network on N training recordings with metadata class labels [N] int."""
    labels = np.asarray(labels, np.int64)
    init_key, data_key, step_key = jax.random.split(key, 3)
    state = init_state(config, data, int(labels.max()) + 1, init_key)
    steps = config.train.epochs * -(-len(labels) // config.train.batch_size)
    for rows, starts in tqdm.tqdm(_batches(config, data, data_key), total=steps,
                                  desc="outlier exposure", disable=not progress):
        mel = np.stack([features.crop(data.mels[i], s, config.inputs.window_frames)
                        for i, s in zip(rows, starts)])
        batch = {"mel": mel, "spectrum": data.spectra[rows], "label": labels[rows]}
        state, metrics = train_step(state, batch, step_key, config.loss)
    if not np.isfinite(float(metrics["loss"])):
        raise FloatingPointError("outlier-exposure training loss became non-finite")
    return state


@functools.partial(jax.jit, static_argnums=0)
def _embed(net: oe_net.OENet, member: dict, mel, spec):
    """[B, W, M], [B, K] -> [B, E] unit-norm embeddings (evaluation mode)."""
    mel, spec = _standardise(member["stats"], mel, spec)
    emb, _ = net.apply(member["variables"], mel, spec, train=False)
    return oe_net._unit(emb)


def member_arrays(state: OEState) -> dict:
    """What scoring needs of a trained network: {'variables', 'stats'} as NumPy arrays."""
    return jax.device_get({"variables": {"params": state.params,
                                         "batch_stats": state.batch_stats},
                           "stats": state.stats})


def embed(config: OEConfig, member: dict, data: Inputs, chunk: int = 128) -> np.ndarray:
    """N recordings -> [N, E] unit-norm mean of their windows' embeddings under one trained
    network (``member_arrays``), ``chunk`` recordings at a time to bound memory."""
    net = network(config, member["variables"]["params"]["centres"].shape[1]
                  // config.subclusters)
    out = []
    for a in range(0, len(data.mels), chunk):
        owner, windows = [], []
        for i in range(a, min(a + chunk, len(data.mels))):
            m = data.mels[i]
            for s in features.window_starts(m.shape[0], config.inputs.window_frames,
                                            config.inputs.eval_hop_frames):
                owner.append(i - a)
                windows.append(features.crop(m, s, config.inputs.window_frames))
        owner = np.array(owner)
        emb = _embed_rows(functools.partial(_embed, net, member), np.stack(windows),
                          data.spectra[a + owner])
        sums = np.zeros((owner.max() + 1, emb.shape[1]))
        np.add.at(sums, owner, emb)
        out.append(sums)
    sums = np.concatenate(out)
    return sums / np.linalg.norm(sums, axis=1, keepdims=True).clip(1e-12)


def _embed_rows(fn, mel: np.ndarray, spec: np.ndarray) -> np.ndarray:
    """Windows [R, W, M] with their recordings' spectra [R, K] -> fn(mel, spec) [R, E], in
    padded buckets."""
    split = mel.shape[1] * mel.shape[2]
    both = np.concatenate([mel.reshape(mel.shape[0], split), spec], axis=1)
    return training.apply_in_buckets(
        lambda rows: fn(rows[:, :split].reshape((-1,) + mel.shape[1:]), rows[:, split:]),
        both, 256,
    )


@dataclasses.dataclass(frozen=True)
class OEModel:
    """Trained OE networks, one per seed: {'variables', 'stats', 'references' [R, E] (the
    embeddings of the normal training recordings)}; those recordings' sections [R] and
    domains [R] (the kNN pools), their log-Mel statistics [R, 2M] (``recording_stats``),
    the reconstruction of each section ({str(section): ``reconstruction.fit``}, when the
    fusion uses it), and, once ``calibrate``d, the mean and std of each fused component:
    ``norms`` {str(section): [C, 2]} on held-out normal recordings, and ``domain_norms``
    {'section|domain': [C, 2]} for the domains no held-out recording is of (``fusion``);
    as fitted (not saved), each section's ``reconstruction.moment_sums`` for
    ``leave_one_out``."""

    members: tuple
    sections: np.ndarray
    domains: np.ndarray
    recording_stats: np.ndarray
    pcas: Optional[dict] = None
    norms: Optional[dict] = None
    domain_norms: Optional[dict] = None
    moments: Optional[dict] = None


def recording_stats(data: Inputs) -> np.ndarray:
    """N recordings -> [N, 2M] per-band mean and std over time of their log-Mel (dB)."""
    return np.stack([np.concatenate([m.mean(0), m.std(0)]) for m in data.mels])


def fit(config: OEConfig, data: Inputs, labels, sections, domains, key: jax.Array,
        progress: bool = False) -> OEModel:
    """Trains ``config.seeds`` networks on N normal recordings (metadata class labels [N]) and
    keeps their embeddings as the references of ``score`` (sections, domains: [N] kNN pools).
    A fused score (``config.fusion``) also needs ``calibrate``."""
    members, sections = [], np.asarray(sections)
    for k in jax.random.split(key, config.seeds):
        member = member_arrays(fit_one(config, data, labels, k, progress))
        members.append({**member, "references": embed(config, member, data)})
    pcas = moments = None
    if config.fusion == "stats+reconstruction":
        pcas, moments = reconstruction.fit_pools(data.mels, sections, config.components,
                                                 RECONSTRUCTION_FRAMES)
    return OEModel(tuple(members), sections, np.asarray(domains), recording_stats(data), pcas,
                   moments=moments)


def components(config: OEConfig, model: OEModel, data: Inputs, sections) -> dict:
    """The scores that ``score`` fuses, [N, D] each (a column per domain of
    ``np.unique(model.domains)``): 'embedding' (kNN cosine, mean over the seeds' networks,
    nearest over ALL domains in every column: see ``fusion``), unless ``config.fusion`` is
    'none' 'stats' (``knn.domain_scores`` of z-scored log-Mel statistics), and with
    'stats+reconstruction' 'reconstruction' (``reconstruction.errors`` under the section's
    principal components, the same in every column)."""
    pools, sections = (model.sections, model.domains), np.asarray(sections)
    n_dom = len(np.unique(model.domains))
    emb = np.mean([knn.scores(m["references"], *pools, embed(config, m, data), sections,
                              config.k, "cosine") for m in model.members], axis=0)
    out = {"embedding": np.repeat(emb[:, None], n_dom, axis=1)}
    if config.fusion != "none":
        out["stats"] = knn.domain_scores(model.recording_stats, *pools, recording_stats(data),
                                         sections, config.k, "zscore")
    if config.fusion == "stats+reconstruction":
        rec = reconstruction.pool_errors(model.pcas or {}, data.mels, sections,
                                         RECONSTRUCTION_FRAMES)
        out["reconstruction"] = np.repeat(rec[:, None], n_dom, axis=1)
    return out


def leave_one_out(config: OEConfig, model: OEModel, train: Inputs, which) -> dict:
    """The ``components`` but 'embedding' of training recordings ``which`` ([n] int indices
    into ``train``, the recordings ``model`` was fitted on), each scored against the other
    training recordings: {'stats', ['reconstruction']: [n, D]} (the reconstruction of a
    recording under its section's principal components refitted without it)."""
    which, n_dom = np.asarray(which, int), len(np.unique(model.domains))
    out = {"stats": knn.domain_scores(model.recording_stats, model.sections, model.domains,
                                      model.recording_stats, model.sections, config.k,
                                      "zscore", leave_one_out=True)[which]}
    if config.fusion == "stats+reconstruction":
        if model.moments is None:
            raise ValueError("leave-one-out reconstruction errors need the model as fitted "
                             "(outlier.fit keeps its moment sums; a loaded one has none)")
        rec = reconstruction.pool_leave_one_out(model.moments, train.take(which).mels,
                                                model.sections[which], config.components,
                                                RECONSTRUCTION_FRAMES)
        out["reconstruction"] = np.repeat(rec[:, None], n_dom, axis=1)
    return out


def calibrated(config: OEConfig, model: OEModel, held: dict, sections, domains=None,
               train: Optional[Inputs] = None) -> OEModel:
    """``model`` with the norms of its fused components (``fusion.norms``): ``held`` are the
    ``components`` of normal recordings of ``sections`` held out of training (>= 2 per
    section), ``domains`` theirs (None: each in its nearest domain); with ``train`` (the
    training recordings), the domains ``fusion.uncovered`` by them are calibrated on the
    ``leave_one_out`` scores of their training recordings ('embedding': held-out norms)."""
    names = np.unique(model.domains)
    norms = fusion.norms(held, sections, domains, names)
    wanted = fusion.uncovered(model.sections, model.domains, sections, domains)
    if train is None or config.fusion == "none" or not wanted.any():
        return dataclasses.replace(model, norms=norms, domain_norms=None)
    loo = leave_one_out(config, model, train, np.flatnonzero(wanted))
    return dataclasses.replace(model, norms=norms, domain_norms=fusion.domain_norms(
        loo, model.sections[wanted], model.domains[wanted], names, norms))


def calibrate(config: OEConfig, model: OEModel, held_out: Inputs, sections) -> OEModel:
    """``calibrated`` on the ``components`` of held-out normal recordings, one pool."""
    return calibrated(config, model, components(config, model, held_out, sections), sections)


def fused(config: OEConfig, model: OEModel, comps: dict, sections) -> np.ndarray:
    """[N] scores from the ``components`` of N recordings (higher = more anomalous): the
    embedding score, or ``fusion.fuse`` of the components under the model's norms."""
    if config.fusion == "none":
        return comps["embedding"][:, 0]
    if model.norms is None:
        raise ValueError("a fused outlier-exposure score needs a calibrated model "
                         "(outlier.calibrate)")
    return fusion.fuse(comps, sections, np.unique(model.domains), model.norms,
                       model.domain_norms)


def score(config: OEConfig, model: OEModel, data: Inputs, sections) -> np.ndarray:
    """[N] ``fused`` scores of N recordings of the given sections."""
    return fused(config, model, components(config, model, data, sections), sections)
