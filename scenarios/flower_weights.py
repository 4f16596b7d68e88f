"""The offline stand-in for MedPerf's download of init_weights_flower.tar.gz: the initial
weights of MedPerf main's example Flower app, made by its own model class with its defaults
(their src/models.py, imported from the laid-out container, not copied), as the archive
``container submit -a`` takes: ``initial_model.pt`` at its top.

    python flower_weights.py FL_CONTAINER_FOLDER OUT.tar.gz
"""

import io
import sys
import tarfile
from pathlib import Path


def main(folder: Path, out: Path) -> None:
    try:
        import torch
    except ImportError:
        sys.exit("flower_weights.py needs torch to make the initial weights: pip install 'medperf-lite[train]'")
    sys.path.insert(0, str(folder / "project" / "src"))
    from models import SimpleCNN  # MedPerf's example model, as their ServerApp and ClientApp build it

    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.save(SimpleCNN().state_dict(), buffer)
    with tarfile.open(out, "w:gz") as archive:
        info = tarfile.TarInfo("initial_model.pt")
        info.size = buffer.tell()
        buffer.seek(0)
        archive.addfile(info, buffer)
    print(f"initial weights of {folder.name}'s SimpleCNN in {out} ({info.size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
