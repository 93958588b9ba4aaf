"""Fusing the outlier-exposure detector's component scores, calibrated per domain.

Each component (``outlier.components``) scores a recording once per domain of its section,
[N, D]. Each column is standardised by the mean and std of that component's scores of
normal recordings of that domain, the standardised components are summed, and the
recording's score is the minimum over domains (it counts as normal if it is normal for one
domain). The norms come from normal recordings nobody trained on: the held-out recordings
(source domain in the DCASE job) for their own domain, and, for a domain of a section that
has no held-out recording (the target domain, whose few recordings are all trained on),
leave-one-out scores of that domain's training recordings against the other training
recordings. The embedding is the exception: its network saw every training recording, so
its leave-one-out distances are too small; it is the nearest distance over all domains,
standardised on the held-out recordings in every domain.

A decision threshold fitted to the held-out recordings' own fused scores would sit too low:
standardised by their own mean and std, they are less spread than the scores of new normal
recordings. ``leave_one_out_fused`` scores each held-out recording under the norms of the
others instead.
"""

from __future__ import annotations

import numpy as np

MIN_LEAVE_ONE_OUT = 3  # training recordings of a domain needed to calibrate it on themselves
_TINY = 1e-12


def _column(names: np.ndarray, domains) -> np.ndarray:
    """[N] column of each domain in ``names`` (the sorted domain names)."""
    return np.searchsorted(names, np.asarray(domains).astype(names.dtype))


def norms(held: dict, sections, domains, names: np.ndarray) -> dict:
    """{str(section): [C, 2]} mean and std of each component (``held``: name -> [N, D]
    scores of held-out normal recordings of ``sections`` [N]) in each recording's own domain
    (``domains`` [N]; None: its nearest, the minimum over columns). ValueError for a section
    with fewer than 2 held-out recordings."""
    sections = np.asarray(sections)
    rows = np.arange(len(sections))
    own = None if domains is None else _column(names, domains)
    out = {}
    for sec in np.unique(sections):
        q = sections == sec
        if q.sum() < 2:
            raise ValueError(f"section {str(sec)!r}: the score fusion needs >= 2 held-out "
                             f"normal recordings, got {int(q.sum())}")
        values = [c.min(1) if own is None else c[rows, own] for c in held.values()]
        out[str(sec)] = np.array([[v[q].mean(), v[q].std() + _TINY] for v in values])
    return out


def uncovered(ref_sections, ref_domains, sections, domains) -> np.ndarray:
    """[R] bool: the training recordings (sections, domains [R]) of a (section, domain) that
    no held-out recording (``sections``, ``domains`` [N]; None: all domains) is of, of a
    section that some are of, and that has >= ``MIN_LEAVE_ONE_OUT`` of them: the ones to
    score leave-one-out."""
    ref_sections, ref_domains = np.asarray(ref_sections), np.asarray(ref_domains)
    if domains is None:
        return np.zeros(len(ref_sections), bool)
    held = {(str(s), str(d)) for s, d in zip(np.asarray(sections), np.asarray(domains))}
    pairs = [(str(s), str(d)) for s, d in zip(ref_sections, ref_domains)]
    count = {p: pairs.count(p) for p in set(pairs)}
    return np.array([p not in held and p[0] in {h[0] for h in held}
                     and count[p] >= MIN_LEAVE_ONE_OUT for p in pairs], bool)


def domain_norms(loo: dict, sections, domains, names: np.ndarray, held_norms: dict) -> dict:
    """{'section|domain': [C, 2]}: for each (section, domain) of the ``uncovered`` training
    recordings, the mean and std of their leave-one-out scores (``loo``: name -> [n, D]) in
    their own domain; the 'embedding' row (first, absent from ``loo``) is the section's
    held-out norm."""
    sections, domains = np.asarray(sections), np.asarray(domains)
    own, rows = _column(names, domains), np.arange(len(sections))
    out = {}
    for sec, dom in sorted({(str(s), str(d)) for s, d in zip(sections, domains)}):
        q = (sections.astype(str) == sec) & (domains.astype(str) == dom)
        values = [c[rows, own][q] for c in loo.values()]
        out[f"{sec}|{dom}"] = np.concatenate(
            [held_norms[sec][:1], [[v.mean(), v.std() + _TINY] for v in values]])
    return out


def fuse(comps: dict, sections, names: np.ndarray, held_norms: dict,
         by_domain=None) -> np.ndarray:
    """[N] fused scores: per domain column, the sum over components (name -> [N, D]) of
    the score standardised by that (section, domain)'s norms (``by_domain``, else the
    section's ``held_norms``), then the minimum over domains. ValueError for a section
    without norms."""
    sections = np.asarray(sections)
    out = np.full(len(sections), np.inf)
    for sec in np.unique(sections):
        q, norm = sections == sec, held_norms.get(str(sec))
        if norm is None:
            raise ValueError(f"section {str(sec)!r} has no score norms (not calibrated)")
        for j, dom in enumerate(names):
            m, s = (by_domain or {}).get(f"{sec}|{dom}", norm).T
            z = sum((c[q, j] - mj) / sj for c, mj, sj in zip(comps.values(), m, s))
            out[q] = np.minimum(out[q], z)
    return out


def leave_one_out_fused(held: dict, sections, domains, names: np.ndarray,
                        by_domain=None) -> np.ndarray:
    """[N] fused score of each held-out normal recording (``held``: name -> [N, D] scores of
    recordings of ``sections`` [N], ``domains`` [N] or None as in ``norms``) under the norms
    of the OTHER held-out recordings of its section: ``norms`` without it, and ``by_domain``
    (``domain_norms``) with its embedding row, the section's held-out norm, recomputed the
    same way; the other rows, from training recordings, stay. These are out-of-sample scores
    to fit a threshold to. A section with fewer than 3 held-out recordings keeps the
    in-sample scores (``fuse`` under ``norms`` of all of them): 2 are needed for a norm."""
    sections = np.asarray(sections)
    doms = None if domains is None else np.asarray(domains)
    out = fuse(held, sections, names, norms(held, sections, doms, names), by_domain)
    _, which, count = np.unique(sections, return_inverse=True, return_counts=True)
    for i in np.flatnonzero(count[which] >= 3):
        keep = np.arange(len(sections)) != i
        mine = norms({k: v[keep] for k, v in held.items()}, sections[keep],
                     None if doms is None else doms[keep], names)
        sec = str(sections[i])
        moved = {k: np.concatenate([mine[sec][:1], v[1:]]) if k.rsplit("|", 1)[0] == sec else v
                 for k, v in (by_domain or {}).items()}
        one = {k: v[i:i + 1] for k, v in held.items()}
        out[i] = fuse(one, sections[i:i + 1], names, mine, moved or None)[0]
    return out
