"""The second stage: attributes of tracked objects (e.g. ``hardhat: yes/no`` from a person's head
region) decided by image classifiers off the detector's critical path (``stage.py``), by a vote over
looks (``vote.py``), on crops prepared exactly as each model's processor says (``preprocess.py``)."""
