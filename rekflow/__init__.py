"""rekflow: Rekognition media analysis on Step Functions, deployable with SAM and runnable offline."""

from pathlib import Path

__version__ = "0.1.0"

# The SAM application this package runs offline; everything it builds is read from here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
