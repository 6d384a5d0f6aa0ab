"""`python -m gap_replay.train --config FILE`, also under `torchrun --nproc_per_node N -m gap_replay.train`."""

from gap_replay.train import main

raise SystemExit(main())
