import sys
from pathlib import Path

# The loopback cluster (bench/cluster.py) is shared with bench/upload_soak.py; the OTLP receiver is the tests' own.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
sys.path.insert(0, str(Path(__file__).parent))
