"""Draws a few maps with their true shortest paths (and their cost grids) into maps.png, for the
README:  PYTHONPATH=python ... .venv/bin/python examples/warcraft-paths/show_maps.py"""

from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main(out: str = os.path.join(HERE, "maps.png"), count: int = 4) -> None:
    sys.path.insert(0, HERE)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    import data

    maps = data.make_collection(seed=data.SPLITS["test"][0], count=count)
    cmap = ListedColormap(data.COLOURS / 255)
    fig, ax = plt.subplots(2, count, figsize=(2.6 * count, 5.6))
    for i in range(count):
        ys, xs = np.nonzero(maps["paths"][i])
        ax[0, i].imshow(maps["images"][i])
        ax[0, i].plot(xs * 8 + 3.5, ys * 8 + 3.5, "o", ms=4, mfc="none", mec="red", mew=1.5)
        ax[0, i].set_title(f"test map {i}", fontsize=9)
        kinds = np.searchsorted(data.COSTS, maps["costs"][i])
        ax[1, i].imshow(kinds, cmap=cmap, vmin=-0.5, vmax=len(data.KINDS) - 0.5)
        for r in range(12):
            for c in range(12):
                ax[1, i].text(c, r, f"{maps['costs'][i][r, c]:g}", ha="center", va="center", fontsize=4.5,
                              color="white" if kinds[r, c] in (data.FOREST, data.WATER, data.HILLS) else "black")
        ax[1, i].plot(xs, ys, "o", ms=7, mfc="none", mec="red", mew=1.2)
        path_cost = float((maps["paths"][i] * maps["costs"][i]).sum())
        ax[1, i].set_title(f"costs; path costs {path_cost:.1f}", fontsize=8)
        for a in ax[:, i]:
            a.set_xticks([]); a.set_yticks([])
    names = ", ".join(f"{k[0]} {k[1]:g}" for k in data.KINDS)
    fig.suptitle(f"Warcraft-like maps (96×96, 12×12 tiles) with the cheapest top-left → bottom-right path\n{names}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=80)


if __name__ == "__main__":
    main()
