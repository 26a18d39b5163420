"""What the 1.5.1 drop-in tells the host's UI and recommender about a track, from this
engine's analysis and mastering: a chunk's content profile (the shape of the
``/api/processing/parameters`` route) and the host's audio fingerprint (its seven measures)."""

from typing import Any, Dict

import numpy as np

from ._files import rms

def unit(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


# The engine's five analysis bands (Hz): edges and geometric centres.
_BAND_EDGES = (20.0, 200.0, 800.0, 3000.0, 8000.0, 20000.0)


def fingerprint_fields(analysis: Dict[str, Any], rate: int) -> Dict[str, float]:
    """The host fingerprint's seven measures from the engine's analysis: levels as measured;
    the spectral ones estimated from the five band levels (energy-weighted centre, spread and
    95 % roll-off over the bands' geometric centres; zero crossings of a tone at the centroid)."""
    energies = np.array([10 ** (b / 10.0) for b in analysis.get("band_db", [0.0] * 5)])
    centres = np.sqrt(np.array(_BAND_EDGES[:-1]) * np.array(_BAND_EDGES[1:]))
    weights = energies / max(float(energies.sum()), 1e-30)
    centroid = float((weights * centres).sum())
    spread = float(np.sqrt((weights * (centres - centroid) ** 2).sum()))
    cumulative = np.cumsum(weights)
    rolloff = float(_BAND_EDGES[1 + int(np.searchsorted(cumulative, 0.95))])
    return {
        "loudness_dbfs": float(analysis.get("rms_dbfs", -20.0)),
        "peak_dbfs": float(analysis.get("sample_peak_dbfs", 0.0)),
        "crest_db": float(analysis.get("crest_db", 12.0)),
        "spectral_centroid": centroid,
        "spectral_rolloff": rolloff,
        "zero_crossing_rate": float(2.0 * centroid / rate),
        "spectral_spread": spread,
    }


def content_profile(analysis: Dict[str, Any], params: Dict[str, Any], audio: Any) -> Dict[str, Any]:
    """The content profile of a chunk (``audio``, (frames, channels)) of a track with this
    engine's ``analysis`` and ``params``: ``coordinates`` (0..1 positions: a tilt of -6..0
    dB/octave, a chunk crest of 6..20 dB, a chunk RMS of -40..0 dBFS) and ``parameters``."""
    a = np.asarray(audio, dtype=np.float32)
    level = rms(a)
    peak = float(max(a.max(), -a.min())) if a.size else 0.0
    crest = 20 * np.log10((peak + 1e-10) / (level + 1e-10))
    eq = params.get("eq_db", [0.0] * 5)
    ratio = float(params.get("ratio", 1.0))
    return {
        "source": "auralis_core",
        "coordinates": {
            "spectral_balance": unit((analysis.get("tilt_db_per_octave", -3.0) + 6.0) / 6.0),
            "dynamic_range": unit((crest - 6.0) / 14.0),
            "energy_level": unit((20 * np.log10(level + 1e-10) + 40.0) / 40.0),
        },
        "parameters": {
            "target_lufs": float(params.get("target_lufs", -14.0)),
            "peak_target_db": float(params.get("ceiling_dbtp", -1.0)),
            "eq_curve": {"low_shelf_gain": float(eq[0]), "high_shelf_gain": float(eq[-1])},
            "compression_params": {"amount": unit((ratio - 1.0) / 3.0), "ratio": ratio},
            "expansion_params": {"amount": 0.0},
            "stereo_width_target": float(params.get("width", 1.0)),
        },
        "analysis": analysis,
    }
