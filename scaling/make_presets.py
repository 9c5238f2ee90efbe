"""Write the derived presets ``efficientnet-b1`` ... ``-b7`` from ``efficientnet-b0``.

Run ``python -m scaling.make_presets`` after changing the B0 preset or the table; a test
checks that the shipped files equal this derivation.
"""

from __future__ import annotations

from search_spaces import load_architecture, preset_path, save_architecture
from search_spaces.presets import PRESET_DIR

from .compound import efficientnet_family


def main() -> None:
    for arch in efficientnet_family(load_architecture(preset_path("efficientnet-b0"))):
        if arch.name != "efficientnet-b0":
            print(save_architecture(arch, PRESET_DIR / f"{arch.name}.json", overwrite=True))


if __name__ == "__main__":
    main()
