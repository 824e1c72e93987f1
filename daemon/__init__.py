"""sitewatch: a real-time video analytics daemon for site cameras.

The package is deliberately light to import: the CLI, config and pipeline are imported on use, so that
``import sitewatch.daemon`` never pulls in torch or Ultralytics.
"""

import os

__version__ = "0.1.0"

# Ultralytics reads these when it is first imported. Set them before anything can import it: a daemon must
# never download weights or pip-install packages at run time.
os.environ["YOLO_OFFLINE"] = "1"
os.environ["YOLO_AUTOINSTALL"] = "false"
os.environ.setdefault("YOLO_VERBOSE", "false")
